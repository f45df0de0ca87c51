"""Train an XGBoost classifier on the breast-cancer data scikit-learn ships, with Cairn logging it.

    python examples/integrations/xgboost_train.py

One run in the project CAIRN_PROJECT names, else "integrations" (the folder's name), in the
embedded store under CAIRN_HOME or at CAIRN_URI:
the params, the train and valid error and logloss at every round, the best iteration early
stopping found, the feature importances (tables and a chart), the booster at runs:/RUN/model
and the training data by digest. Takes a few seconds on a CPU.
"""

import xgboost as xgb
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

import cairn.xgboost

cairn.xgboost.autolog()  # the one added line

X, y = load_breast_cancer(return_X_y=True, as_frame=True)
X_train, X_valid, y_train, y_valid = train_test_split(X, y, test_size=0.25, random_state=0)
dtrain = xgb.DMatrix(X_train, label=y_train)
dvalid = xgb.DMatrix(X_valid, label=y_valid)

params = {"objective": "binary:logistic", "eval_metric": ["error", "logloss"], "max_depth": 3, "eta": 0.1}
booster = xgb.train(
    params,
    dtrain,
    num_boost_round=300,
    evals=[(dtrain, "train"), (dvalid, "valid")],
    early_stopping_rounds=20,
    verbose_eval=False,
)
print(f"best iteration {booster.best_iteration}: valid logloss {booster.best_score:.4f}")
