# A VGG-style Keras model written block by block, flatten then two fc layers.
from tensorflow.keras import layers, models


def vgg_block(x, filters, convs):
    for _ in range(convs):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    return layers.MaxPooling2D(2, strides=2)(x)


def VGGSmall(input_shape=(64, 64, 3), classes=12):
    img_input = layers.Input(shape=input_shape)
    x = vgg_block(img_input, 32, 2)
    x = vgg_block(x, 64, 2)
    x = vgg_block(x, 128, 3)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(256, activation="relu", name="fc1")(x)
    x = layers.Dense(256, activation="relu", name="fc2")(x)
    x = layers.Dense(classes, activation="softmax", name="predictions")(x)
    return models.Model(img_input, x, name="vgg_small")


model = VGGSmall()
