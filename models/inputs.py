"""The model's input end, chosen by the task's IOSpec: token ids get an embedding, features pass through."""

import keras


@keras.saving.register_keras_serializable("rnnzoo")
class WordTypeDropout(keras.layers.Layer):
  """Drops word types: each sequence loses a random share of its vocabulary, every occurrence of a dropped word
  at once (Gal & Ghahramani 2016). Token dropout leaves a word that a review repeats (a film's title, an actor)
  visible almost surely; this hides it, so the model cannot lean on it."""

  def __init__(self, rate, vocabulary_size, seed=None, **kwargs):
    super().__init__(**kwargs)
    self.rate, self.vocabulary_size, self.seed = rate, vocabulary_size, seed
    self.seed_generator = keras.random.SeedGenerator(seed)
    self.supports_masking = True

  def call(self, embeddings, ids, training=False):
    if not training:
      return embeddings
    kept_words = keras.random.uniform((keras.ops.shape(ids)[0], self.vocabulary_size),
                                      seed=self.seed_generator) >= self.rate
    kept = keras.ops.cast(keras.ops.take_along_axis(kept_words, ids, axis=1), embeddings.dtype)
    return embeddings * kept[..., None] / (1 - self.rate)

  def get_config(self):
    return {**super().get_config(), "rate": self.rate, "vocabulary_size": self.vocabulary_size, "seed": self.seed}


def embedding_dropout(x, ids, vocabulary_size, spec, prefix=""):
  """--dropout on the embeddings x [batch, steps, dim] of ids [batch, steps]: --embedding_dropout chooses what."""
  name = f"{prefix}{spec.embedding_dropout}_dropout"
  if spec.embedding_dropout == "word_type":
    return WordTypeDropout(spec.dropout, vocabulary_size, name=name)(x, ids)
  # word: the same tokens vanish from every channel; channel: the same channels vanish at every step.
  shape = (None, None, 1) if spec.embedding_dropout == "word" else (None, 1, spec.embedding_dim)
  return keras.layers.Dropout(spec.dropout, noise_shape=shape, name=name)(x)


def input_and_features(spec, io):
  """Returns (keras.Input, the tensor the recurrent stack reads); --dropout applies to inputs too.

  Token ids are right-padded with 0, so the embedding's mask tells every later layer where a
  sequence ends. Embedding dropout drops whole tokens, whole word types (Gal & Ghahramani 2016), or
  whole channels (Keras' SpatialDropout1D).
  """
  if io.input_kind == "tokens":
    inputs = keras.Input(shape=(io.sequence_length,), batch_size=io.stateful_batch, dtype="int32", name=io.input_name)
    x = keras.layers.Embedding(io.input_size, spec.embedding_dim, mask_zero=True, name="embedding")(inputs)
    if spec.dropout and io.input_dropout:
      x = embedding_dropout(x, inputs, io.input_size, spec)
    return inputs, x
  if io.input_kind == "features":
    inputs = keras.Input(shape=(io.sequence_length, io.input_size), batch_size=io.stateful_batch, dtype="float32",
                         name=io.input_name)
    if spec.dropout and io.input_dropout:
      return inputs, keras.layers.Dropout(spec.dropout, name="input_dropout")(inputs)
    return inputs, inputs
  raise ValueError(f"unknown input kind {io.input_kind!r}")
