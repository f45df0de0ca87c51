"""Tune an SVM on the wine data scikit-learn ships, with Cairn logging every fit.

    python examples/integrations/sklearn_train.py

Runs go to the project "wine" (the embedded store under CAIRN_HOME, or CAIRN_URI): one run
for the search with a child run per candidate, the best tagged, the best model at
runs:/RUN/model; then one run for a plain logistic regression. Takes a few seconds on a CPU.
"""

from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import cairn.sklearn

cairn.sklearn.autolog(project="wine")  # the one added line

X, y = load_wine(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)

search = GridSearchCV(
    make_pipeline(StandardScaler(), SVC()),
    {"svc__C": [0.1, 1, 10], "svc__kernel": ["linear", "rbf"]},
    cv=3,
)
search.fit(X_train, y_train)
print(f"best {search.best_params_}: cv accuracy {search.best_score_:.3f}, test {search.score(X_test, y_test):.3f}")

baseline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X_train, y_train)
print(f"logistic regression: test accuracy {baseline.score(X_test, y_test):.3f}")
