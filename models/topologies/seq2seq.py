"""Sequence to sequence: an encoder reads the input, a decoder of the same cell writes the output.

The encoder's final states start the decoder, layer by layer; a bidirectional encoder's two
directions are joined, so its decoder has twice the units. The top encoder layer's final output
(the context) is also fed to every decoder step next to the decoder's own input, so the decoder never
loses sight of the source (Cho et al. 2014). The decoder reads a token sequence of its own (ids > 0,
0 = padding): the previous target tokens (teacher forcing), or, for forecasting, the position of
each output step, so that every step is decoded from the encoder's summary at once (SegRNN's
parallel multi-step forecasting).

With attention, each decoder output is joined with a context vector over the encoder's outputs and
mixed by a tanh layer (Luong et al. 2015's placement), scored additively (Bahdanau et al. 2015) or
multiplicatively (Luong's "general" score). With tie_embeddings the head scores each token by
the decoder's embedding of it (Press & Wolf 2017): a rare target token's one vector learns both
from being read and from being written, and the head's largest matrix is gone. `Decoder` runs the trained decoder one step at a time
for greedy and beam search.
"""

import keras
import tensorflow as tf

from models.inputs import embed, input_and_features
from models.recurrent import recurrent_layer
from models.stepping import Stepper

DECODER_INPUT = "decoder_inputs"


def encode(x, spec):
  """(outputs [batch, steps, units x directions], context [batch, units x directions], final states per layer)."""
  states = []
  for i in range(spec.layers):
    if i > 0 and spec.dropout:
      x = keras.layers.Dropout(spec.dropout, name=f"encoder_dropout_{i}")(x)
    x, *layer_states = recurrent_layer(spec.cell, spec.units, bidirectional=spec.bidirectional, return_state=True,
                                       name=f"encoder_{spec.cell}_{i}")(x)
    if spec.bidirectional:
      half = len(layer_states) // 2
      layer_states = [keras.ops.concatenate([forward, backward], axis=-1)
                      for forward, backward in zip(layer_states[:half], layer_states[half:])]
    # Named, so that Decoder can find them in a trained model.
    states.append([keras.layers.Identity(name=f"encoder_{i}_state_{j}")(state) for j, state in enumerate(layer_states)])
  context = keras.layers.Identity(name="encoder_context")(states[-1][0])   # the top layer's final output
  return keras.layers.Identity(name="encoded")(x), context, states


def _attention_layers(spec, units):
  if spec.attention == "none":
    return None
  layers = {"query": keras.layers.Dense(units, use_bias=False, name="attention_query"),
            "mix": keras.layers.Dense(units, activation="tanh", name="attentional")}
  if spec.attention == "additive":
    layers["key"] = keras.layers.Dense(units, use_bias=False, name="attention_key")
    layers["score"] = keras.layers.AdditiveAttention(name="attention")
  else:
    layers["score"] = keras.layers.Attention(name="attention")
  return layers


def _attend(layers, decoded, encoded, keys, encoded_mask=None):
  query = layers["query"](decoded)
  value_and_key = [encoded, keys] if keys is not None else [encoded]
  # The source's padding, passed explicitly (not left to Keras' mask propagation) so that training and the
  # stepped decoder attend to the same positions.
  masks = {} if encoded_mask is None else {"mask": [None, encoded_mask]}
  context = layers["score"]([query, *value_and_key], **masks)
  return layers["mix"](keras.ops.concatenate([decoded, context], axis=-1))


def build(spec, io):
  """An encoder-decoder: {io.input_name: source [batch, steps(, features)], "decoder_inputs": ids [batch, out_steps]}
  -> logits [batch, out_steps, io.output_size] (teacher forcing: the decoder reads the previous target tokens).

  Args:
    spec: a ModelSpec; the decoder has the encoder's cell and depth (twice its units when the encoder is
      bidirectional); `spec.attention` adds additive or multiplicative attention over the encoder's outputs.
    io: the task's IOSpec with `decoder_vocab` (ids the decoder reads, 0 = padding) and optionally `decoder_length`.

  Example:
  >>> import models, numpy as np
  >>> from models.topologies import seq2seq
  >>> io = models.IOSpec("tokens", 40, 30, input_name="source_ids", decoder_vocab=30)
  >>> model = seq2seq.build(models.get("bigru_attention"), io)
  >>> model({"source_ids": np.array([[5, 6, 0]]), "decoder_inputs": np.array([[2, 7]])}).shape
  TensorShape([1, 2, 30])
  """
  if io.decoder_vocab is None:
    raise ValueError("seq2seq needs an IOSpec with decoder_vocab (and decoder_length)")
  inputs, x = input_and_features(spec, io)
  encoded, context, states = encode(x, spec)
  decoder_inputs = keras.Input(shape=(io.decoder_length,), dtype="int32", name=DECODER_INPUT)
  if spec.tie_embeddings and io.decoder_vocab != io.output_size:
    raise ValueError(f"tie_embeddings needs a decoder that reads the tokens it writes; it reads {io.decoder_vocab} "
                     f"ids and writes {io.output_size}")
  embedding = keras.layers.ReversibleEmbedding(io.decoder_vocab, spec.embedding_dim, mask_zero=True,
                                               name="decoder_embedding") if spec.tie_embeddings else None
  y = embed(decoder_inputs, io.decoder_vocab, spec, "decoder_embedding", dropout=io.input_dropout, layer=embedding)
  y = keras.layers.Concatenate(name="decoder_step_inputs")([y, keras.ops.zeros_like(y[..., :1]) + context[:, None]])
  units = spec.units * (2 if spec.bidirectional else 1)
  for i in range(spec.layers):
    if i > 0 and spec.dropout:
      y = keras.layers.Dropout(spec.dropout, name=f"decoder_dropout_{i}")(y)
    y = recurrent_layer(spec.cell, units, name=f"decoder_{spec.cell}_{i}")(y, initial_state=states[i])
  attention = _attention_layers(spec, units)
  if attention:
    keys = attention["key"](encoded) if "key" in attention else None
    source_mask = keras.ops.not_equal(inputs, 0) if io.input_kind == "tokens" else None
    y = _attend(attention, y, encoded, keys, source_mask)
  if spec.dropout:
    y = keras.layers.Dropout(spec.dropout, name="head_dropout")(y)
  if spec.tie_embeddings:
    y = keras.layers.Dense(spec.embedding_dim, use_bias=False, name="head_projection")(y)
    outputs = embedding(y, reverse=True)
  else:
    outputs = keras.layers.Dense(io.output_size, name="head")(y)
  return keras.Model({io.input_name: inputs, DECODER_INPUT: decoder_inputs}, outputs, name=f"{spec.name}_seq2seq")


class Decoder:
  """A trained seq2seq model's decoder, one step at a time (dropout off): for greedy and beam search.

      decoder = Decoder(model, source_name)
      memory, states = decoder.start(source_ids)             # encode once
      logits, states = decoder.step(tokens, states, memory)  # tokens [n] -> logits [n, vocab]

  It finds its parts in the model by the names `build` gives them.
  """

  def __init__(self, model, source_name):
    layers = {layer.name: layer for layer in model.layers}
    recurrent = sorted(name for name, layer in layers.items()
                       if name.startswith("decoder_") and isinstance(layer, keras.layers.RNN))
    state_names = sorted((name for name in layers if name.startswith("encoder_") and "_state_" in name),
                         key=lambda name: tuple(int(part) for part in name.split("_")[1::2]))
    self.per_layer = len(state_names) // len(recurrent)
    self.attends = "attention" in layers   # without attention the encoder's outputs are not in the model
    self.encoder = keras.Model(model.input[source_name], [
        layers["encoder_context"].output, *[layers[name].output for name in state_names],
        *([layers["encoded"].output] if self.attends else [])])
    self.stepper = Stepper([layers[name] for name in recurrent])
    self.embedding = layers["decoder_embedding"].embeddings
    self.attention = None if not self.attends else {
        part: layers[name] for part, name in (("query", "attention_query"), ("key", "attention_key"),
                                              ("score", "attention"), ("mix", "attentional")) if name in layers}
    if "head" in layers:
      self.head = layers["head"]
    else:   # --tie_embeddings
      projection, embedding = layers["head_projection"], layers["decoder_embedding"]
      self.head = lambda output: embedding(projection(output), reverse=True)

  def start(self, source):
    """Encodes a batch: (memory: what every step reads, [batch, ...] each; initial decoder states)."""
    context, *flat = self.encoder(source, training=False)
    memory = {"context": context}
    if self.attends:
      memory["encoded"] = flat.pop()
      memory["mask"] = source > 0 if source.dtype.is_integer else tf.ones(tf.shape(source)[:2], tf.bool)
      if "key" in self.attention:
        memory["keys"] = self.attention["key"](memory["encoded"])
    states = [list(flat[i:i + self.per_layer]) for i in range(0, len(flat), self.per_layer)]
    return memory, states

  def step(self, tokens, states, memory):
    context = memory["context"]   # float16 under --mixed_precision, like every layer output
    x = tf.concat([tf.cast(tf.gather(self.embedding, tokens), context.dtype), context], axis=-1)
    output, states = self.stepper(x, states)
    if self.attention:
      output = _attend(self.attention, output[:, None], memory["encoded"], memory.get("keys"), memory["mask"])[:, 0]
    return tf.cast(self.head(output), tf.float32), states
