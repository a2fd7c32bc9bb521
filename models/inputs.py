"""The model's input end, chosen by the task's IOSpec: token ids get an embedding, features pass through."""

import keras

from models.recurrent import recurrent_layer

CHAR_INPUT = "char_ids"
UNKNOWN_ID = 1            # every task's token ids: 0 padding, 1 unknown
CHAR_EMBEDDING_DIM = 32   # as Lample et al. 2016 (25) and Plank et al. 2016 (100) size it: small beside the word's


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


@keras.saving.register_keras_serializable("rnnzoo")
class CharacterFeatures(keras.layers.Layer):
  """What each word's spelling says: char ids [batch, words, chars] (0 = padding) -> [batch, words, 2 x units], the
  final states of a BiLSTM over each word's characters (Ling et al. 2015; Lample et al. 2016; Plank et al. 2016).
  Unknown and rare words are still read by their prefixes, suffixes and capitals."""

  def __init__(self, char_vocab, units, dropout=0.0, **kwargs):
    super().__init__(**kwargs)
    self.char_vocab, self.units, self.dropout = char_vocab, units, dropout
    self.embedding = keras.layers.Embedding(char_vocab, CHAR_EMBEDDING_DIM, mask_zero=True, name="char_embedding")
    self.reader = recurrent_layer("lstm", units, bidirectional=True, return_sequences=False, name="char_lstm")
    self.drop = keras.layers.Dropout(dropout, name="char_dropout") if dropout else None

  def build(self, input_shape):
    self.embedding.build((None, None))
    self.reader.build((None, None, CHAR_EMBEDDING_DIM))

  def call(self, char_ids, training=False):
    shape = keras.ops.shape(char_ids)
    # Every word, padding ones included, is read as its own sequence. The task puts a begin and an end mark around
    # each word's characters, so no sequence is all padding (which cuDNN refuses).
    flat = keras.ops.reshape(char_ids, (-1, shape[2]))
    embedded = self.embedding(flat)
    if self.drop is not None:
      embedded = self.drop(embedded, training=training)
    read = self.reader(embedded, mask=keras.ops.not_equal(flat, 0), training=training)
    return keras.ops.reshape(read, (shape[0], shape[1], 2 * self.units))

  def compute_mask(self, char_ids, mask=None):
    return None

  def get_config(self):
    return {**super().get_config(), "char_vocab": self.char_vocab, "units": self.units, "dropout": self.dropout}


@keras.saving.register_keras_serializable("rnnzoo")
class WordMask(keras.layers.Layer):
  """Features with the mask of the word ids. Keras' Concatenate reads a missing mask (the character features have
  none) as all-true and joins the masks with `any`, so the padding words would be read as words."""

  def __init__(self, **kwargs):
    super().__init__(**kwargs)
    self.supports_masking = True

  def call(self, inputs):   # [features, word ids]: one list, since Keras hands compute_mask the first input only
    return inputs[0]

  def compute_mask(self, inputs, mask=None):
    return keras.ops.not_equal(inputs[1], 0)


@keras.saving.register_keras_serializable("rnnzoo")
class UnknownTokenDropout(keras.layers.Layer):
  """While training, replaces a share of the token ids (never padding) by the unknown id, so the model sees how
  an unknown word reads and learns to lean on what else it has (its characters, its context): Kiperwasser &
  Goldberg 2016's word dropout, Plank et al. 2016's tagger. Every task's vocabulary has padding 0, unknown 1."""

  def __init__(self, rate, seed=None, **kwargs):
    super().__init__(**kwargs)
    self.rate, self.seed = rate, seed
    self.seed_generator = keras.random.SeedGenerator(seed)

  def call(self, ids, training=False):
    if not training:
      return ids
    dropped = (keras.random.uniform(keras.ops.shape(ids), seed=self.seed_generator) < self.rate) & (ids > 0)
    return keras.ops.where(dropped, keras.ops.ones_like(ids) * UNKNOWN_ID, ids)

  def get_config(self):
    return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def embed(ids, vocabulary_size, spec, name, dropout=True, layer=None):
  """ids [batch, steps] (0 = padding) -> masked embeddings, with --dropout as --embedding_dropout says.

  `layer`: the embedding layer to read (one the caller shares, as a tied head does), instead of a new one."""
  if dropout and spec.dropout and spec.embedding_dropout == "unknown":
    ids = UnknownTokenDropout(spec.dropout, name=f"{name}_unknown_dropout")(ids)
  layer = layer or keras.layers.Embedding(vocabulary_size, spec.embedding_dim, mask_zero=True, name=name)
  x = layer(ids)
  if dropout and spec.dropout and spec.embedding_dropout != "unknown":
    x = embedding_dropout(x, ids, vocabulary_size, spec, prefix=name.removesuffix("embedding"))
  return x


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
    x = embed(inputs, io.input_size, spec, "embedding", dropout=io.input_dropout)
    if spec.char_units and io.char_vocab:
      chars = keras.Input(shape=(io.sequence_length, None), batch_size=io.stateful_batch, dtype="int32",
                          name=CHAR_INPUT)
      spelled = CharacterFeatures(io.char_vocab, spec.char_units, spec.dropout if io.input_dropout else 0.0,
                                  name="characters")(chars)
      x = WordMask(name="word_mask")([keras.layers.Concatenate(name="word_and_characters")([x, spelled]), inputs])
      return {io.input_name: inputs, CHAR_INPUT: chars}, x
    return inputs, x
  if io.input_kind == "features":
    inputs = keras.Input(shape=(io.sequence_length, io.input_size), batch_size=io.stateful_batch, dtype="float32",
                         name=io.input_name)
    if spec.dropout and io.input_dropout:
      return inputs, keras.layers.Dropout(spec.dropout, name="input_dropout")(inputs)
    return inputs, inputs
  raise ValueError(f"unknown input kind {io.input_kind!r}")
