"""Train a small convnet on the handwritten digits scikit-learn ships, with Cairn logging the fit.

    python examples/integrations/keras_train.py

Keras 3 on the PyTorch backend (set KERAS_BACKEND to "jax" or "tensorflow" for another). One
run goes to CAIRN_PROJECT, else the name of this folder (the embedded store under CAIRN_HOME,
or CAIRN_URI): the optimizer's config and the fit's settings as params, loss and accuracy on
the training and validation data per epoch, the model at runs:/RUN/model, and the training
arrays (the images and their labels) as the run's dataset "train". Takes a few seconds on a CPU.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before Keras is imported: it picks its backend then

import keras
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import cairn.keras

cairn.keras.autolog()  # the one added line

digits = load_digits()
x = (digits.images / 16.0).astype("float32")[..., None]  # 8x8 grey images, one channel
x_train, x_test, y_train, y_test = train_test_split(x, digits.target, test_size=0.2, random_state=0)

model = keras.Sequential(
    [
        keras.Input(shape=(8, 8, 1)),
        keras.layers.Conv2D(16, kernel_size=3, activation="relu"),
        keras.layers.MaxPooling2D(pool_size=2),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(10, activation="softmax"),
    ]
)
model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(1e-2), metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=64, epochs=10, validation_split=0.1, verbose=2)

loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"test loss {loss:.3f}, test accuracy {accuracy:.3f}")
