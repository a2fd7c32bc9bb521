"""One builder per input/output pattern: `build(spec, topology, io) -> keras.Model`."""

from models.topologies import many_to_many, many_to_one, one_to_many, seq2seq

TOPOLOGIES = {
    "many_to_one": many_to_one.build,
    "many_to_many": many_to_many.build,
    "one_to_many": one_to_many.build,
    "seq2seq": seq2seq.build,
}


def build(spec, topology, io):
  return TOPOLOGIES[topology](spec, io)
