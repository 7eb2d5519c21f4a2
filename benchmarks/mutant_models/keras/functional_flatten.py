# Functional model with a flatten layer bound to a variable, two dense layers.
from keras import Input, Model
from keras.layers import Conv2D, Dense, Flatten, MaxPool2D

inp = Input((48, 48, 1))
h = Conv2D(16, 3, activation="relu")(inp)
h = MaxPool2D()(h)
h = Conv2D(32, 3, activation="relu")(h)
h = MaxPool2D()(h)
flat = Flatten()
h = flat(h)
h = Dense(64, activation="relu")(h)
out = Dense(7, activation="softmax", name="emotion")(h)
model = Model(inputs=inp, outputs=out)
