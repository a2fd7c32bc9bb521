"""The model's input end, chosen by the task's IOSpec: token ids get an embedding, features pass through."""

import keras


def embedding_dropout(x, spec, prefix=""):
  """--dropout on embeddings [batch, steps, dim]: whole words, or whole channels (--embedding_dropout)."""
  # word: the same words vanish from every channel; channel: the same channels vanish at every step.
  shape = (None, None, 1) if spec.embedding_dropout == "word" else (None, 1, spec.embedding_dim)
  return keras.layers.Dropout(spec.dropout, noise_shape=shape, name=f"{prefix}{spec.embedding_dropout}_dropout")(x)


def input_and_features(spec, io):
  """Returns (keras.Input, the tensor the recurrent stack reads); --dropout applies to inputs too.

  Token ids are right-padded with 0, so the embedding's mask tells every later layer where a
  sequence ends. Embedding dropout drops whole words (Gal & Ghahramani 2016), which keeps a model
  from leaning on a few memorable tokens, or whole channels (Keras' SpatialDropout1D).
  """
  if io.input_kind == "tokens":
    inputs = keras.Input(shape=(io.sequence_length,), batch_size=io.stateful_batch, dtype="int32", name=io.input_name)
    x = keras.layers.Embedding(io.input_size, spec.embedding_dim, mask_zero=True, name="embedding")(inputs)
    if spec.dropout and io.input_dropout:
      x = embedding_dropout(x, spec)
    return inputs, x
  if io.input_kind == "features":
    inputs = keras.Input(shape=(io.sequence_length, io.input_size), batch_size=io.stateful_batch, dtype="float32",
                         name=io.input_name)
    if spec.dropout and io.input_dropout:
      return inputs, keras.layers.Dropout(spec.dropout, name="input_dropout")(inputs)
    return inputs, inputs
  raise ValueError(f"unknown input kind {io.input_kind!r}")
