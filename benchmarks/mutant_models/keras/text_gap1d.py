# Text classification: Embedding + GlobalAveragePooling1D (the IMDB tutorial).
import tensorflow as tf

vocab_size = 10000
model = tf.keras.Sequential(
    [
        tf.keras.Input(shape=(200,), dtype="int32"),
        tf.keras.layers.Embedding(vocab_size, 16),
        tf.keras.layers.GlobalAveragePooling1D(),
        tf.keras.layers.Dense(16, activation="relu"),
        tf.keras.layers.Dense(1, activation="sigmoid"),
    ]
)
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
