"""Train a LightGBM regressor on the diabetes data scikit-learn ships, with Cairn logging it.

    python examples/integrations/lightgbm_train.py

One run in the project CAIRN_PROJECT names, else "integrations" (the folder's name), in the
embedded store under CAIRN_HOME or at CAIRN_URI: the
params, the training and valid l2 and l1 at every iteration, the best iteration early stopping
found, the feature importances (tables and a chart), the booster at runs:/RUN/model with a
signature from the training data, and the training data by digest. Takes a few seconds on a CPU.
"""

import lightgbm as lgb
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split

import cairn.lightgbm

cairn.lightgbm.autolog()  # the one added line

X, y = load_diabetes(return_X_y=True, as_frame=True)
X_train, X_valid, y_train, y_valid = train_test_split(X, y, test_size=0.25, random_state=0)
train_set = lgb.Dataset(X_train, y_train)
valid_set = lgb.Dataset(X_valid, y_valid, reference=train_set)

params = {"objective": "regression", "metric": ["l2", "l1"], "num_leaves": 15, "learning_rate": 0.05, "verbose": -1}
booster = lgb.train(
    params,
    train_set,
    num_boost_round=500,
    valid_sets=[train_set, valid_set],
    valid_names=["training", "valid"],
    callbacks=[lgb.early_stopping(30, first_metric_only=True, verbose=False)],
)
print(f"best iteration {booster.best_iteration}: valid l2 {booster.best_score['valid']['l2']:.1f}")
