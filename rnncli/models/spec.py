"""What fixes a model: :class:`ModelSpec` (its parameter shapes and function) and the initial weights.

Parameter names: ``embedding.weight`` (absent for one-hot), ``prefix_embedding.weight``,
``suffix_embedding.weight``, ``shape_embedding.weight`` (word features), the stack's ``rnn.l{k}…``
(``engine/recurrent.py``), ``head.W`` (O, F) and ``head.b`` (O,); the encoder–decoder's are in
:mod:`rnncli.models.encoder_decoder`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from rnncli.engine.recurrent import ONEHOT_OFFSET, StackSpec

# The values a ModelSpec field may take: the config schema's choices for the same keys (a test keeps them equal).
CHOICES = {
    "cell": ("rnn", "lstm", "gru"),
    "activation": ("tanh", "relu"),
    "input": ("embedding", "onehot", "features"),
    "pooling": ("last", "mean", "max", "concat"),
}

# What each pooling puts into the summary, in order: "concat" is ULMFiT's concat pooling (Howard & Ruder 2018).
POOLED = {"last": ("last",), "mean": ("mean",), "max": ("max",), "concat": ("last", "max", "mean")}


@dataclass(frozen=True)
class ModelSpec:
    """Everything that fixes the model's parameter shapes and function."""

    vocab_size: int  # V, including <pad> and <unk>
    num_classes: int  # classify: C ≥ 2; tag: number of tags; lm: V; regress: 1
    task: str = "classify"
    cell: str = "rnn"
    activation: str = "tanh"
    input: str = "embedding"  # or "onehot", or "features" (real-valued vectors per step)
    embedding_dim: int = 16
    hidden_size: int = 16
    num_layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    pooling: str = "last"  # many-to-one tasks: last | mean | max | concat ([last, max, mean])
    learn_h0: bool = False
    feature_dim: int = 0  # input "features": D, the number of features per timestep
    attention: bool = False  # seq2seq: additive attention over the encoder outputs
    max_target_length: int = 0  # seq2seq: the longest training target in tokens (sets the decoding limit)
    word_features: tuple = ()  # ((name, vocabulary size), …), e.g. (("suffix3", 812), ("shape", 95), ("chars20", 90))
    word_feature_dim: int = 16  # E, the embedding size of each word feature
    char_embedding_dim: int = 0  # with a chars{k} word feature: the character embedding's size
    char_hidden_size: int = 0  # … and the hidden size of each direction of the character encoder
    num_conditions: int = 0  # generate: how many conditions (labels) there are
    feed_condition: bool = False  # generate: the condition's embedding is also an input at every step
    input_dropout: float = 0.0  # dropout on the recurrent stack's input (embeddings, word features)
    output_dropout: float = 0.0  # dropout on what the output layer reads
    word_dropout: float = 0.0  # probability that a real input token becomes <unk> (training only)
    variational: bool = False  # every dropout mask is shared over time: one per sequence and feature
    # What the task asks of the model; the task sets them (``Task.model_spec``), run.json does not store them.
    architecture: str = "sequence"  # the model that computes it (:func:`rnncli.models.model_for`)
    per_step: bool = False  # many-to-many: a prediction at every timestep
    output: str = "classes"  # "classes" (softmax, or one sigmoid logit for two) or "value" (one number, MSE)

    # Written to run.json and checkpoints only when set, so that runs written before these keys existed
    # describe the same model (a resume compares the descriptions).
    OPTIONAL = {"num_conditions": 0, "feed_condition": False, "char_embedding_dim": 0, "char_hidden_size": 0, "input_dropout": 0.0, "output_dropout": 0.0,
                "word_dropout": 0.0, "variational": False}
    DERIVED = ("architecture", "per_step", "output")

    def __post_init__(self):  # run.json gives lists; keep the spec hashable and comparable
        object.__setattr__(self, "word_features", tuple((str(n), int(v)) for n, v in self.word_features))

    @property
    def num_outputs(self) -> int:
        """O, the head's outputs: one for a value or for two classes of a whole sequence (a sigmoid), else
        one per class."""
        if self.output == "value" or (not self.per_step and self.num_classes == 2):
            return 1
        return self.num_classes

    @property
    def summary_size(self) -> int:
        """The width of what the head reads: the stack's outputs F for a per-step model, else F per pooled part."""
        return self.stack.output_size * (1 if self.per_step else len(POOLED[self.pooling]))

    @property
    def table_features(self) -> tuple:
        """The word features embedded by a table of their own (all but the characters)."""
        return tuple(f for f in self.word_features if not f[0].startswith("chars"))

    @property
    def char_vocab_size(self) -> int:
        """The size of the character vocabulary (0 without the character encoder)."""
        return next((size for name, size in self.word_features if name.startswith("chars")), 0)

    @property
    def stochastic(self) -> bool:
        """Whether training draws random masks (any dropout)."""
        return any((self.dropout, self.input_dropout, self.output_dropout, self.word_dropout))

    def stack_dropout(self) -> dict:
        """The StackSpec fields of dropout: between layers, on the input, and whether variational."""
        return {"dropout": self.dropout, "input_dropout": self.input_dropout, "variational": self.variational}

    @property
    def stack(self) -> StackSpec:
        onehot = self.input == "onehot"
        input_size = {"onehot": self.vocab_size - ONEHOT_OFFSET, "features": self.feature_dim}.get(
            self.input, self.embedding_dim + len(self.table_features) * self.word_feature_dim
            + (2 * self.char_hidden_size if self.char_vocab_size else 0))
        return StackSpec(
            cell=self.cell,
            input_size=input_size,
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            bidirectional=self.bidirectional,
            activation=self.activation,
            onehot=onehot,
            learn_h0=self.learn_h0,
            **self.stack_dropout(),
        )

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        from rnncli.models import model_for

        return model_for(self).param_shapes(self)

    def to_dict(self) -> dict:
        """Plain JSON data (lists, not tuples), as run.json and checkpoints store it."""
        d = {**asdict(self), "word_features": [list(f) for f in self.word_features]}
        return {k: v for k, v in d.items()
                if k not in self.DERIVED and (k not in self.OPTIONAL or v != self.OPTIONAL[k])}


CHAR_PREFIX = "char"  # the character encoder's stack: char.l0.W_ih, char.l0_reverse.W_ih, …


def feature_param(name: str) -> str:
    """The embedding of word feature ``name``: "suffix3" → ``suffix_embedding.weight``."""
    return f"{name.rstrip('0123456789')}_embedding.weight"


# ---------------------------------------------------------------------- initialisation


def _orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))  # sign fix makes the distribution uniform (Mezzadri 2007)


def init_params(spec: ModelSpec, rng: np.random.Generator, dtype=np.float32, init: str = "default",
                forget_bias: float = 0.0, recurrent_gain: float = 1.0) -> dict[str, np.ndarray]:
    """Random parameters.

    default     every recurrent tensor ~ U(±1/√H) (PyTorch); head (and seq2seq's attention and bridge)
                ~ U(±1/√fan_in); embeddings ~ N(0, 1)
    xavier      W_ih, W_hh gate blocks ~ U(±√(6/(fan_in + fan_out))), biases 0
    orthogonal  W_ih as xavier, each (H, H) gate block of W_hh orthogonal, biases 0 (Keras' LSTM)
    identity    W_ih as xavier, W_hh = I, biases 0 (IRNN, Le et al. 2015)
    forget_bias, when non-zero, sets the LSTM forget-gate block [H:2H] of the bias.
    recurrent_gain multiplies every W_hh after its init (1.5 · I with relu makes gradients explode).
    Learned initial states start at 0.
    """
    H = spec.hidden_size
    params = {}
    shapes = spec.param_shapes()
    # feed-forward layers ~ U(±1/√fan_in), as PyTorch's nn.Linear
    fan_in = {"head": shapes["head.W"][1], "attn": H, "bridge": 2 * H}
    for name, shape in shapes.items():
        leaf = name.rsplit(".", 1)[1]
        H = spec.char_hidden_size if name.startswith(CHAR_PREFIX + ".") else spec.hidden_size
        if name.endswith("embedding.weight"):
            p = rng.standard_normal(shape)
        elif leaf in ("h0", "c0"):
            p = np.zeros(shape)
        elif name.split(".")[0] in fan_in:
            bound = 1.0 / np.sqrt(fan_in[name.split(".")[0]])
            p = rng.uniform(-bound, bound, size=shape)
        elif init == "default":
            p = rng.uniform(-1.0 / np.sqrt(H), 1.0 / np.sqrt(H), size=shape)
        elif leaf.startswith("b"):
            p = np.zeros(shape)
        elif leaf == "W_hh" and init == "orthogonal":
            p = np.concatenate([_orthogonal(rng, H) for _ in range(shape[0] // H)])
        elif leaf == "W_hh" and init == "identity":
            p = np.tile(np.eye(H), (shape[0] // H, 1))
        else:  # xavier, per gate block of H rows
            bound = np.sqrt(6.0 / (shape[1] + H))
            p = rng.uniform(-bound, bound, size=shape)
        if spec.cell == "lstm" and leaf == "b" and forget_bias:
            p[H : 2 * H] = forget_bias
        if leaf == "W_hh" and recurrent_gain != 1.0:
            p = p * recurrent_gain
        params[name] = p.astype(dtype)
    return params
