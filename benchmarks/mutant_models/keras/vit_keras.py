# A small ViT in Keras with a learned class token picked by x[:, 0].
import keras
from keras import layers, ops


class ClassToken(layers.Layer):
    def build(self, input_shape):
        self.cls = self.add_weight(shape=(1, 1, input_shape[-1]), initializer="zeros", name="cls")

    def call(self, x):
        b = ops.shape(x)[0]
        return ops.concatenate([ops.broadcast_to(self.cls, (b, 1, ops.shape(x)[-1])), x], axis=1)


def transformer_block(x, dim, heads):
    h = layers.LayerNormalization(epsilon=1e-6)(x)
    h = layers.MultiHeadAttention(num_heads=heads, key_dim=dim // heads)(h, h)
    x = layers.Add()([x, h])
    h = layers.LayerNormalization(epsilon=1e-6)(x)
    h = layers.Dense(dim * 2, activation="gelu")(h)
    h = layers.Dense(dim)(h)
    return layers.Add()([x, h])


def create_vit(image_size=32, patch_size=4, dim=64, depth=2, heads=4, num_classes=10):
    inputs = keras.Input(shape=(image_size, image_size, 3))
    x = layers.Conv2D(dim, patch_size, strides=patch_size)(inputs)
    x = layers.Reshape(((image_size // patch_size) ** 2, dim))(x)
    x = ClassToken()(x)
    for _ in range(depth):
        x = transformer_block(x, dim, heads)
    x = layers.LayerNormalization(epsilon=1e-6)(x)
    x = x[:, 0]
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


model = create_vit()
