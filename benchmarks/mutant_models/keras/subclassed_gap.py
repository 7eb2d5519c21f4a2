# Subclassed model with a global pooling layer and a softmax head.
# mutants-input: 2x32x32x3
import keras
from keras import layers


class SmallNet(keras.Model):
    def __init__(self, num_classes=10, **kwargs):
        super().__init__(**kwargs)
        self.block1 = layers.Conv2D(32, 3, padding="same", activation="relu")
        self.block2 = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")
        self.pool = layers.GlobalMaxPooling2D()
        self.classifier = layers.Dense(num_classes, activation="softmax")

    def call(self, inputs, training=False):
        x = self.block1(inputs)
        x = self.block2(x)
        x = self.pool(x)
        return self.classifier(x)


model = SmallNet()
