"""The update stage: parameters, their gradients and the optimizer's state in; new parameters and state out.

Each optimizer is one rule (torch.optim's ``step()`` per class): the lines it adds to the solution
for one parameter — each state update and the parameter's update, a formula over named quantities —
and the state it carries from one training step to the next. The stage is generic over how a
parameter's quantities are keyed: ``network.Parameter`` objects (``Quantity("param", parameter=p)``)
or the named leaves of an operation graph (``Ref("value", "w0")``); the solve loops only thread what
the rules say they carry.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import cached_property, lru_cache
from math import isqrt
from typing import Any, ClassVar

import sympy
from mpmath import libmp

from .network import Network, Parameter
from .numbers import DIGITS, NoFiniteValue, settle
from .steps import Quantity, Update

Key = Hashable
Values = dict[Any, sympy.Expr]

# --- the quantities of the update stage ------------------------------------------------------

#: A state quantity's kind is ``state:<letter>`` (at the start of a step) or ``state:<letter>:new`` (at its
#: end); a hyperparameter's ``hyper:<field>``. Each is written as this table says: (tex, text, ascii, mathml).
LETTERS: dict[str, tuple[str, str, str, str]] = {
    "v": ("v", "v", "v", "<mi>v</mi>"),
    "m": ("m", "m", "m", "<mi>m</mi>"),
    "s": ("s", "s", "s", "<mi>s</mi>"),
    "mhat": (r"\hat{m}", "m̂", "mhat", '<mover accent="true"><mi>m</mi><mo>^</mo></mover>'),
    "vhat": (r"\hat{v}", "v̂", "vhat", '<mover accent="true"><mi>v</mi><mo>^</mo></mover>'),
    "g": ("g", "g", "g", "<mi>g</mi>"),
    "decayed": (r"\tilde{\theta}", "θ̃", "decayed", '<mover accent="true"><mi>θ</mi><mo>~</mo></mover>'),
    "t": ("t", "t", "t", "<mi>t</mi>"),
    "rate": (r"\eta_{t}", "η_t", "eta_t", "<msub><mi>η</mi><mi>t</mi></msub>"),
    "lr_decay": (r"\delta_{\eta}", "lr_decay", "lr_decay", "<msub><mi>δ</mi><mi>η</mi></msub>"),
    "objective": (r"J_{\text{reg}}", "J_reg", "J_reg", "<msub><mi>J</mi><mtext>reg</mtext></msub>"),
    "momentum": (r"\mu", "μ", "mu", "<mi>μ</mi>"),
    "beta1": (r"\beta_{1}", "β₁", "beta1", "<msub><mi>β</mi><mn>1</mn></msub>"),
    "beta2": (r"\beta_{2}", "β₂", "beta2", "<msub><mi>β</mi><mn>2</mn></msub>"),
    "epsilon": (r"\epsilon", "ε", "epsilon", "<mi>ε</mi>"),
    "alpha": (r"\alpha", "α", "alpha", "<mi>α</mi>"),
    "weight_decay": (r"\lambda_{\text{wd}}", "λ_wd", "weight_decay", "<msub><mi>λ</mi><mtext>wd</mtext></msub>"),
    "lambda": (r"\lambda", "λ", "lambda", "<mi>λ</mi>"),
}


def state_kind(letter: str, new: bool = False) -> str:
    """The kind of a state quantity: ``state:v`` at the start of a step, ``state:v:new`` at its end."""
    return f"state:{letter}" + (":new" if new else "")


def letters_of(kind: str) -> tuple[tuple[str, str, str, str], bool] | None:
    """How an update-stage quantity of ``kind`` is written, and whether it is a step's end value; None for others."""
    if kind.startswith("state:"):
        parts = kind.split(":")
        return LETTERS[parts[1]], len(parts) > 2
    if kind.startswith("hyper:"):
        return LETTERS[kind[6:]], False
    return None


@dataclass(frozen=True)
class Keys:
    """How one kind of exercise keys a parameter's quantities: ``make(kind, owner)``, owner None for shared ones.

    Attributes:
        make: Builds the quantity of ``kind`` (``grad``, ``new``, ``state:v``…) of a parameter (its owner).
        value: The kind of a parameter's own value (``param`` for networks, ``value`` for graphs).
    """

    make: Callable[[str, Any], Key]
    value: str

    def __call__(self, kind: str, owner: Any = None) -> Key:
        return self.make(self.value if kind == "param" else kind, owner)


#: Networks: a parameter is a ``network.Parameter``, its quantities ``Quantity(kind, parameter=p)``.
NETWORK_KEYS = Keys(lambda kind, owner: Quantity(kind, parameter=owner), "param")


@dataclass(frozen=True)
class Slot:
    """One parameter as the update stage sees it.

    Attributes:
        owner: What the keys are built from: a ``network.Parameter`` or a graph leaf's name.
        regularized: The regularization term applies to it (weights; biases with ``biases: true``).
        trainable: False for a bias kept fixed (``options.update_biases: false``).
        frozen: Listed under ``frozen``: never updated.
    """

    owner: Any
    regularized: bool = True
    trainable: bool = True
    frozen: bool = False


# --- the lines of the update stage ---------------------------------------------------------


@dataclass(frozen=True)
class Assign:
    """One line of the update stage: ``result`` = ``formula``, each symbol of the formula a named quantity.

    The formula is built unevaluated, in the order a course writes it (``μ v + g``), and printed so.

    Attributes:
        result: The quantity computed (a state at the step's end, or the new parameter).
        formula: A SymPy expression over the symbols of ``reads``.
        reads: (symbol, quantity) pairs.
        note: A remark printed beside the line (``t = 2``, ``frozen``).
    """

    result: Key
    formula: sympy.Expr
    reads: tuple[tuple[sympy.Symbol, Key], ...]
    note: str = ""

    def value(self, values: Mapping) -> sympy.Expr:
        """The line's value from the values of the quantities it reads: exact while every operation keeps it
        rational, else to numbers.DIGITS digits."""
        return self._compiled(*(values[key] for _, key in self.reads))

    @cached_property
    def _compiled(self) -> Callable[..., sympy.Expr]:
        # NOTE: the formula is walked once into a closure over plain fractions and mpmath numbers: the
        # same formula, computed 100 times faster than substituting into SymPy's tree at every step; and
        # once for all the parameters' lines of the same formula, which share what they remember.
        return _compiled_formula(self.formula, tuple(symbol for symbol, _ in self.reads))


# --- computing a line ---------------------------------------------------------------------

_PREC = libmp.dps_to_prec(DIGITS) + 10
_DIGITS_PREC = libmp.dps_to_prec(DIGITS)
_ROUND = libmp.round_nearest


def _raw(value) -> Fraction | tuple:
    """A value as the compiled lines carry it: a Fraction while exact, else a raw mpmath number."""
    if type(value) is sympy.Float:
        return value._mpf_
    if isinstance(value, (Fraction, tuple)):
        return value
    if value.is_Rational:
        fraction = _FRACTIONS.get(value)
        if fraction is None:
            fraction = _remember(_FRACTIONS, value, Fraction(int(value.p), int(value.q)))
        return fraction
    return value._mpf_


#: The remembered conversions: each exact input as a Fraction (the same fields come back at every line of
#: every step), and each Fraction a line made as a raw mpmath number, by its identity (see ``_float``).
_FRACTIONS: dict[sympy.Rational, Fraction] = {}
_FLOATS: dict[int, tuple[Fraction, tuple]] = {}
_REMEMBERED = 4096


def _remember(table: dict, key, value):
    if len(table) >= _REMEMBERED:
        table.clear()
    table[key] = value
    return value


def _float(value: Fraction | tuple) -> tuple:
    if type(value) is tuple:
        return value
    # NOTE: by identity first (the entry holds the Fraction, so its id is not reused): an exact part of a
    # formula is remembered as one object (see compile_formula), and hashing a long Fraction is slow.
    entry = _FLOATS.get(id(value))
    if entry is not None and entry[0] is value:
        return entry[1]
    return _remember(_FLOATS, id(value), (value, _from_fraction(value)))[1]


@lru_cache(maxsize=4096)
def _from_fraction(value: Fraction) -> tuple:
    # NOTE: remembered: the same fields (β₁, 1 − β₂, η) are converted at every line of every step.
    return libmp.from_rational(value.numerator, value.denominator, _PREC, _ROUND)


#: An exact power of more bits than this is computed to DIGITS digits (0.9¹⁰⁰⁰ exactly has 3,000 digits).
_EXACT_POWER_BITS = 2048


def _sympy(value: Fraction | tuple) -> sympy.Expr:
    if type(value) is Fraction:
        return sympy.Rational(value.numerator, value.denominator)
    # NOTE: Float._new rounds the raw number to DIGITS digits, to nearest (and a zero is SymPy's 0).
    return sympy.Float._new(value, _DIGITS_PREC)


# NOTE: ``type(…) is Fraction`` rather than isinstance: Fraction's isinstance goes through its ABC, and a
# compiled line's values are exactly Fractions or raw mpmath tuples.
def _plus(left, right):
    if type(left) is Fraction and type(right) is Fraction:
        return left + right
    return libmp.mpf_add(_float(left), _float(right), _PREC, _ROUND)


def _times(left, right):
    if type(left) is Fraction and type(right) is Fraction:
        return left * right
    return libmp.mpf_mul(_float(left), _float(right), _PREC, _ROUND)


def _power(base, exponent):
    if type(exponent) is Fraction and exponent.denominator == 1:
        if type(base) is Fraction:
            if base == 0 and exponent < 0:
                raise NoFiniteValue("is infinite (a division by 0)")
            size = max(base.numerator.bit_length(), base.denominator.bit_length()) * abs(int(exponent))
            if size <= _EXACT_POWER_BITS:
                return base ** int(exponent)
            base = _float(base)
        if exponent < 0 and base == libmp.fzero:
            raise NoFiniteValue("is infinite (a division by 0)")
        return libmp.mpf_pow_int(base, int(exponent), _PREC, _ROUND)
    if isinstance(exponent, Fraction) and exponent.denominator == 2:
        if (base < 0) if isinstance(base, Fraction) else libmp.mpf_sign(base) < 0:
            raise NoFiniteValue("is not a real number (the square root of a negative number)")
        root = None
        if isinstance(base, Fraction):
            top, bottom = isqrt(base.numerator), isqrt(base.denominator)
            if top * top == base.numerator and bottom * bottom == base.denominator:
                root = Fraction(top, bottom)
        if root is None:
            root = libmp.mpf_sqrt(_float(base), _PREC, _ROUND)
        return _power(root, Fraction(exponent.numerator)) if exponent.numerator != 1 else root
    raise NoFiniteValue("is a power the update stage does not compute")


def _sign(value):
    return Fraction((value > 0) - (value < 0)) if isinstance(value, Fraction) else Fraction(libmp.mpf_sign(value))


def _absolute(value):
    return abs(value) if isinstance(value, Fraction) else libmp.mpf_abs(value)


@lru_cache(maxsize=1024)
def _compiled_formula(formula: sympy.Expr, symbols: tuple[sympy.Symbol, ...]) -> Callable[..., sympy.Expr]:
    return compile_formula(formula, symbols)


def compile_formula(formula: sympy.Expr, symbols: tuple[sympy.Symbol, ...]) -> Callable[..., sympy.Expr]:
    """``formula`` as a function of the values of ``symbols`` (in order), each operation as the formula has it.

    NOTE: a part of the formula whose inputs are all exact (1 − β₁ᵗ, from the fields and the step count) is
    remembered by those inputs: the same for every parameter of a step, it is computed once per step. Which
    inputs are exact is seen at the call, so the formula is built once for each such pattern.
    """
    position = {symbol: index for index, symbol in enumerate(symbols)}
    bodies: dict[tuple[bool, ...], Callable] = {}

    def build(node) -> tuple[Callable, frozenset]:
        if node in position:
            index = position[node]
            return (lambda arguments: arguments[index]), frozenset((index,))
        if node.is_Rational:
            constant = Fraction(int(node.p), int(node.q))
            return (lambda arguments: constant), frozenset()
        built = [build(argument) for argument in node.args]
        reads = frozenset().union(*(read for _, read in built))
        return _operation(node, [part for part, _ in built]), reads

    def remembering(node, exact: tuple[bool, ...]) -> Callable:
        """``node``'s function, with each largest part that reads only exact inputs remembered."""
        if node in position or node.is_Rational:
            return build(node)[0]
        operation, reads = build(node)
        if all(exact[index] for index in reads):
            return _remembered(operation, tuple(sorted(reads)))
        return _operation(node, [remembering(argument, exact) for argument in node.args])

    def compute(*values: sympy.Expr) -> sympy.Expr:
        arguments = [_raw(value) for value in values]
        exact = tuple(type(argument) is Fraction for argument in arguments)
        body = bodies.get(exact)
        if body is None:
            body = bodies[exact] = remembering(formula, exact)
        return _sympy(body(arguments))

    return compute


def _remembered(operation: Callable, reads: tuple[int, ...]) -> Callable:
    """``operation``, its value remembered for the (exact) values it last read."""
    last: list = [None, None]

    def remembered(arguments):
        key = [arguments[index] for index in reads]
        # NOTE: compared by identity: the exact inputs are the same objects for every parameter of a step
        # (see ``_raw``); the entry holds them, so no id is reused meanwhile.
        known, value = last
        if known is not None and all(a is b for a, b in zip(known, key)):
            return value
        value = operation(arguments)
        last[:] = [key, value]
        return value

    return remembered


def _operation(node, parts: list[Callable]) -> Callable:
    """The function computing ``node`` from the functions computing its arguments (``parts``)."""
    if isinstance(node, (sympy.Add, sympy.Mul)):
        combine = _plus if isinstance(node, sympy.Add) else _times
        if len(parts) == 2:
            left, right = parts
            return lambda arguments: combine(left(arguments), right(arguments))

        def folded(arguments):
            result = parts[0](arguments)
            for part in parts[1:]:
                result = combine(result, part(arguments))
            return result
        return folded
    if isinstance(node, sympy.Pow):
        base, exponent = parts
        return lambda arguments: _power(base(arguments), exponent(arguments))
    if isinstance(node, sympy.sign):
        return lambda arguments: _sign(parts[0](arguments))
    if isinstance(node, sympy.Abs):
        return lambda arguments: _absolute(parts[0](arguments))
    raise TypeError(f"the update stage computes no {type(node).__name__}")


# NOTE: symbols named so that no two lines' symbols clash; the printers keep the order each formula is built in.
_E = {"evaluate": False}


def _symbol(name: str) -> sympy.Symbol:
    return sympy.Symbol(name, real=True)


THETA, ETA, G, GRAD, V, M, S, MHAT, VHAT, T = (_symbol(name) for name in
                                               ("theta", "eta", "g", "grad", "v", "m", "s", "mhat", "vhat", "t"))
MU, BETA1, BETA2, EPS, ALPHA, LAMBDA, DECAY = (_symbol(name) for name in
                                               ("mu", "beta1", "beta2", "eps", "alpha", "lambda", "decay"))


def _add(*terms) -> sympy.Expr:
    return sympy.Add(*terms, **_E)


def _mul(*factors) -> sympy.Expr:
    return sympy.Mul(*factors, **_E)


def _minus(term) -> sympy.Expr:
    return _mul(sympy.Integer(-1), term)


def _over(numerator, denominator) -> sympy.Expr:
    return _mul(numerator, sympy.Pow(denominator, -1, **_E))


def _square(term) -> sympy.Expr:
    return sympy.Pow(term, 2, **_E)


def _root(term) -> sympy.Expr:
    return sympy.Pow(term, sympy.Rational(1, 2), **_E)


def _one_minus(term) -> sympy.Expr:
    return _add(sympy.Integer(1), _minus(term))


@dataclass(frozen=True)
class Lines:
    """What a rule needs to write one parameter's lines: its keys, and the gradient its update uses."""

    keys: Keys
    slot: Slot
    gradient: Key  # ∂J/∂θ, or g with the regularization / coupled weight decay added

    def key(self, kind: str) -> Key:
        return self.keys(kind, self.slot.owner)

    def state(self, letter: str, new: bool = False) -> Key:
        return self.keys(state_kind(letter, new), self.slot.owner)

    def hyper(self, name: str) -> Key:
        return self.keys(f"hyper:{name}")

    @property
    def rate(self) -> Key:
        return self.keys("rate")

    @property
    def count(self) -> Key:
        return self.keys(state_kind("t"))

    def line(self, result: Key, formula: sympy.Expr, note: str = "", **reads: Key) -> Assign:
        return Assign(result, formula, tuple((_symbol(name), key) for name, key in reads.items()), note)


# --- the rules -----------------------------------------------------------------------------


class Rule:
    """An optimizer: its spec fields with their defaults, the state letters it carries, and its lines.

    A rule class gives ``lines(lines, theta)``: the lines for one parameter, the last one computing the new
    value from ``theta`` (the parameter's value, or AdamW's decayed value).
    """

    name: ClassVar[str]
    fields: ClassVar[dict[str, str]] = {}
    state: ClassVar[tuple[str, ...]] = ()
    #: torch.optim's coupled weight decay g ← g + λθ (AdamW decouples it instead).
    coupled: ClassVar[bool] = True
    counts_steps: ClassVar[bool] = False
    description: ClassVar[str]

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        self.settings = dict(settings or {})

    def lines(self, lines: Lines, theta: Key) -> Iterator[Assign]:
        raise NotImplementedError


class SGD(Rule):
    name = "sgd"
    fields = {"weight_decay": "0"}
    description = "θ ← θ − η g"

    def lines(self, lines: Lines, theta: Key) -> Iterator[Assign]:
        yield lines.line(lines.key("new"), _add(THETA, _minus(_mul(ETA, G))), theta=theta, eta=lines.rate,
                         g=lines.gradient)


class Momentum(Rule):
    name = "momentum"
    fields = {"momentum": "0.9", "nesterov": "false", "weight_decay": "0"}
    state = ("v",)
    description = "v ← μ v + g; θ ← θ − η v"

    @property
    def nesterov(self) -> bool:
        return bool(self.settings.get("nesterov"))

    def lines(self, lines: Lines, theta: Key) -> Iterator[Assign]:
        velocity = lines.state("v", True)
        yield lines.line(velocity, _add(_mul(MU, V), G), mu=lines.hyper("momentum"), v=lines.state("v"),
                         g=lines.gradient)
        if self.nesterov:
            yield lines.line(lines.key("new"), _add(THETA, _minus(_mul(ETA, _add(G, _mul(MU, V))))),
                             "Nesterov: the step looks ahead by μ v", theta=theta, eta=lines.rate, g=lines.gradient,
                             mu=lines.hyper("momentum"), v=velocity)
        else:
            yield lines.line(lines.key("new"), _add(THETA, _minus(_mul(ETA, V))), theta=theta, eta=lines.rate,
                             v=velocity)


class Adagrad(Rule):
    name = "adagrad"
    fields = {"epsilon": "1e-10", "weight_decay": "0", "lr_decay": "0", "initial_accumulator_value": "0"}
    state = ("s",)
    counts_steps = True
    description = "s ← s + g²; θ ← θ − η g / (√s + ε)"

    def lines(self, lines: Lines, theta: Key) -> Iterator[Assign]:
        total = lines.state("s", True)
        yield lines.line(total, _add(S, _square(G)), s=lines.state("s"), g=lines.gradient)
        rate = lines.rate
        if self.settings.get("lr_decay"):
            # NOTE: torch.optim.Adagrad's decayed rate η / (1 + (t − 1)·lr_decay).
            rate = lines.state("rate")
            yield lines.line(rate, _over(ETA, _add(sympy.Integer(1), _mul(_add(T, sympy.Integer(-1)), DECAY))),
                             "learning-rate decay", eta=lines.rate, t=lines.count, decay=lines.hyper("lr_decay"))
        yield from _scaled_step(lines, theta, total, rate)


def _scaled_step(lines: Lines, theta: Key, squares: Key, rate: Key | None = None) -> Iterator[Assign]:
    """θ ← θ − η g / (√s + ε), AdaGrad's and RMSProp's step."""
    yield lines.line(lines.key("new"), _add(THETA, _minus(_over(_mul(ETA, G), _add(_root(S), EPS)))),
                     theta=theta, eta=rate or lines.rate, g=lines.gradient, s=squares, eps=lines.hyper("epsilon"))


class RMSProp(Rule):
    name = "rmsprop"
    fields = {"alpha": "0.99", "epsilon": "1e-8", "weight_decay": "0"}
    state = ("s",)
    description = "s ← α s + (1 − α) g²; θ ← θ − η g / (√s + ε)"

    def lines(self, lines: Lines, theta: Key) -> Iterator[Assign]:
        average = lines.state("s", True)
        yield lines.line(average, _add(_mul(ALPHA, S), _mul(_one_minus(ALPHA), _square(G))),
                         alpha=lines.hyper("alpha"), s=lines.state("s"), g=lines.gradient)
        yield from _scaled_step(lines, theta, average)


class Adam(Rule):
    name = "adam"
    fields = {"beta1": "0.9", "beta2": "0.999", "epsilon": "1e-8", "weight_decay": "0"}
    state = ("m", "v")
    counts_steps = True
    description = ("m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)g²; the bias-corrected moments m/(1 − β₁^t) and "
                   "v/(1 − β₂^t); θ ← θ − η·(corrected m)/(√(corrected v) + ε)")

    def lines(self, lines: Lines, theta: Key) -> Iterator[Assign]:
        first, second = lines.state("m", True), lines.state("v", True)
        beta1, beta2 = lines.hyper("beta1"), lines.hyper("beta2")
        yield lines.line(first, _add(_mul(BETA1, M), _mul(_one_minus(BETA1), G)), beta1=beta1,
                         m=lines.state("m"), g=lines.gradient)
        yield lines.line(second, _add(_mul(BETA2, V), _mul(_one_minus(BETA2), _square(G))), beta2=beta2,
                         v=lines.state("v"), g=lines.gradient)
        mhat, vhat = lines.state("mhat"), lines.state("vhat")
        yield lines.line(mhat, _over(M, _one_minus(sympy.Pow(BETA1, T, **_E))), "bias correction", m=first,
                         beta1=beta1, t=lines.count)
        yield lines.line(vhat, _over(V, _one_minus(sympy.Pow(BETA2, T, **_E))), "bias correction", v=second,
                         beta2=beta2, t=lines.count)
        yield lines.line(lines.key("new"), _add(THETA, _minus(_over(_mul(ETA, MHAT), _add(_root(VHAT), EPS)))),
                         theta=theta, eta=lines.rate, mhat=mhat, vhat=vhat, eps=lines.hyper("epsilon"))


class AdamW(Adam):
    name = "adamw"
    fields = {**Adam.fields, "weight_decay": "0.01"}
    coupled = False
    description = "the decoupled weight decay θ − η λ θ first, then Adam's step from it"

    def lines(self, lines: Lines, theta: Key) -> Iterator[Assign]:
        decayed = lines.state("decayed")
        yield lines.line(decayed, _add(THETA, _minus(_mul(ETA, DECAY, THETA))), "decoupled weight decay",
                         theta=theta, eta=lines.rate, decay=lines.hyper("weight_decay"))
        yield from super().lines(lines, decayed)


#: Every optimizer by its spec name. Adding one is one entry here (and its rule class).
OPTIMIZERS: dict[str, type[Rule]] = {rule.name: rule for rule in (SGD, Momentum, Adagrad, RMSProp, Adam, AdamW)}
REGULARIZERS = ("l2", "l1")
TRAININGS = ("batch", "online")


# --- the spec's fields -----------------------------------------------------------------------


@dataclass(frozen=True)
class Training:
    """How the parameters are updated (SPEC §2.6): the optimizer and its fields, regularization, schedule, frozen.

    Attributes:
        optimizer: The rule's name (``sgd`` without an ``optimizer``).
        settings: Each field of the rule with its value (numbers exact; ``nesterov`` a bool).
        regularization: ``("l2", λ)`` or ``("l1", λ)``, or None.
        regularize_biases: The regularization also applies to biases.
        online: One update per example, in order (``training: online``).
        frozen: The names of the parameters never updated, as the spec writes them.
    """

    optimizer: str = "sgd"
    settings: tuple[tuple[str, Any], ...] = ()
    regularization: tuple[str, sympy.Rational] | None = None
    regularize_biases: bool = False
    online: bool = False
    frozen: tuple[str, ...] = ()

    @property
    def plain(self) -> bool:
        """Plain gradient descent, no regularization, no decay: the update is written θ − η ∂J/∂θ as always."""
        return self.optimizer == "sgd" and self.regularization is None and not self.setting("weight_decay")

    def setting(self, name: str) -> Any:
        return dict(self.settings).get(name)

    def rule(self) -> Rule:
        return OPTIMIZERS[self.optimizer](dict(self.settings))

    @property
    def decay(self) -> sympy.Rational:
        """The weight decay λ (0 without one)."""
        return self.setting("weight_decay") or sympy.Integer(0)


PLAIN = Training()

#: The spec's top-level keys the update stage reads.
SPEC_KEYS = ("optimizer", "regularization", "training", "frozen")


# --- the stage -------------------------------------------------------------------------------


def stage_lines(training: Training, keys: Keys, slots: tuple[Slot, ...]) -> tuple:
    """Every line of the update stage, parameter by parameter: the gradient used, the state, the new value."""
    rule = training.rule()
    out: list = []
    for slot in slots:
        lines = Lines(keys, slot, keys("grad", slot.owner))
        new = keys("new", slot.owner)
        theta = keys("param", slot.owner)
        if slot.frozen or not slot.trainable:
            note = "frozen: never updated" if slot.frozen else "kept fixed (update_biases: false)"
            out.append(lines.line(new, THETA, note, theta=theta))
            continue
        gradient = _gradient_line(training, rule, lines)
        if gradient is not None:
            out.append(gradient)
            lines = replace(lines, gradient=gradient.result)
        out.extend(rule.lines(lines, theta))
    return tuple(out)


def _gradient_line(training: Training, rule: Rule, lines: Lines) -> Assign | None:
    """g = ∂J/∂θ + λθ (L2 or coupled weight decay), + λ·sign θ (L1); None when nothing is added."""
    terms, reads = [GRAD], {"grad": lines.gradient}
    regularization = training.regularization
    if regularization and lines.slot.regularized:
        reads |= {"lambda": lines.hyper("lambda"), "theta": lines.key("param")}
        terms.append(_mul(LAMBDA, THETA) if regularization[0] == "l2" else
                     _mul(LAMBDA, sympy.sign(THETA, evaluate=False)))
    if rule.coupled and training.decay:
        reads |= {"decay": lines.hyper("weight_decay"), "theta": lines.key("param")}
        terms.append(_mul(DECAY, THETA))
    if len(terms) == 1:
        return None
    return lines.line(lines.state("g"), _add(*terms), **reads)


def penalty_line(result: Key, cost: Key, weights: tuple[Key, ...], rate: Key, kind: str) -> Assign:
    """The regularized cost: J_reg = J + (λ/2) Σ w² (``l2``) or J + λ Σ |w| (``l1``), over ``weights``."""
    symbols = tuple(_symbol(f"w{index:06d}") for index in range(len(weights)))
    if kind == "l2":
        penalty = _mul(_over(LAMBDA, sympy.Integer(2)), _add(*(_square(w) for w in symbols)))
    else:
        penalty = _mul(LAMBDA, _add(*(sympy.Abs(w, evaluate=False) for w in symbols)))
    cost_symbol = _symbol("cost")
    return Assign(result, _add(cost_symbol, penalty),
                  ((cost_symbol, cost), (LAMBDA, rate), *zip(symbols, weights)), f"{kind} regularization")


def hyperparameters(training: Training, keys: Keys) -> Values:
    """The fields the lines read, as given values (constant from step to step)."""
    values: Values = {keys(f"hyper:{name}"): value for name, value in training.settings
                      if name in ("momentum", "beta1", "beta2", "epsilon", "alpha", "lr_decay")
                      or name == "weight_decay" and (value or not training.rule().coupled)}
    if training.regularization:
        values[keys("hyper:lambda")] = training.regularization[1]
    return values


def initial_state(training: Training, keys: Keys, owners) -> Values:
    """Each state quantity before the first step (0; AdaGrad's initial_accumulator_value), t = 1, and the fields."""
    rule = training.rule()
    start = training.setting("initial_accumulator_value") or sympy.Integer(0)
    state: Values = {keys(state_kind(letter), owner): start if letter == "s" and rule.name == "adagrad"
                     else sympy.Integer(0) for owner in owners for letter in rule.state}
    if rule.counts_steps:
        state[keys(state_kind("t"))] = sympy.Integer(1)
    return state | hyperparameters(training, keys)


def next_state(training: Training, keys: Keys, owners, values: Mapping, state: Mapping) -> Values:
    """The state the next step starts from: each state's value at this step's end, t + 1, the fields as they were."""
    rule = training.rule()
    carried: Values = dict(state)
    for owner in owners:
        for letter in rule.state:
            end = values.get(keys(state_kind(letter, True), owner))
            if end is not None:  # NOTE: a frozen parameter's state stays as it started
                carried[keys(state_kind(letter), owner)] = end
    if rule.counts_steps:
        carried[keys(state_kind("t"))] = state[keys(state_kind("t"))] + 1
    return carried


def state_json(training: Training, keys: Keys, owners, values: Mapping) -> dict[str, list]:
    """Each state letter's values at the end of a step, as (owner, value) pairs (the caller shapes them)."""
    # NOTE: a frozen parameter's state is never updated: it stays at its start value.
    return {letter: [(owner, values.get(end, values[begin])) for owner, end, begin in located]
            for letter, located in _state_keys(OPTIMIZERS[training.optimizer].state, keys, tuple(owners)).items()}


# NOTE: remembered: JSON looks up the same state quantities at every step.
@lru_cache(maxsize=64)
def _state_keys(letters: tuple[str, ...], keys: Keys, owners: tuple) -> dict[str, list]:
    """Each state letter's (owner, key at the step's end, key at its start), owner by owner."""
    return {letter: [(owner, keys(state_kind(letter, True), owner), keys(state_kind(letter), owner)) for owner in owners]
            for letter in letters}


# --- networks --------------------------------------------------------------------------------


def training_of(network: Network) -> Training:
    """The network's update settings (plain SGD when the spec has none)."""
    return network.training or PLAIN


def slots_of(network: Network) -> tuple[Slot, ...]:
    training = training_of(network)
    frozen = set(network.frozen)
    return tuple(Slot(parameter, parameter.kind == "weight" or training.regularize_biases, parameter.trainable,
                      parameter in frozen) for parameter in network.parameters)


def update_steps(network: Network, gradients: tuple) -> tuple:
    """The update stage's steps for every parameter, in the order of ``gradients`` (none without a learning rate)."""
    if network.learning_rate is None:
        return ()
    training = training_of(network)
    if training.plain and not network.frozen:
        # NOTE: with the textbooks' error terms, an update is written (and computed) from δ and the input,
        # w + η δ x, as the book does: the update step carries the gradient's own step for that.
        book = network.options.error_term
        return tuple(Update(Quantity("new", parameter=g.parameter), Quantity("param", parameter=g.parameter),
                            g.result, Quantity("rate"), g.parameter.trainable, g if book else None)
                     for g in gradients)
    by_parameter = {slot.owner: slot for slot in slots_of(network)}
    return stage_lines(training, NETWORK_KEYS, tuple(by_parameter[g.parameter] for g in gradients))


def objective(network: Network, cost: Quantity) -> tuple[tuple, Quantity]:
    """The regularized cost's line and quantity (J_reg = J + penalty), or no line and ``cost`` itself."""
    training = training_of(network)
    if training.regularization is None or network.learning_rate is None:
        return (), cost
    weights = tuple(Quantity("param", parameter=slot.owner) for slot in slots_of(network) if slot.regularized)
    result = Quantity(state_kind("objective"))
    return (penalty_line(result, cost, weights, Quantity("hyper:lambda"), training.regularization[0]),), result


@dataclass(frozen=True)
class Carried:
    """What one training step hands the next: each parameter's value and the optimizer's state.

    Attributes:
        parameters: Each parameter's value at the start of the step.
        state: Each state quantity's value at the start of the step, with the optimizer's fields.
    """

    parameters: dict[Parameter, sympy.Expr]
    state: Values = field(default_factory=dict)


def start(network: Network) -> Carried:
    """The parameters as the spec gives them, and the optimizer's initial state."""
    state = initial_state(training_of(network), NETWORK_KEYS, network.parameters) if network.learning_rate else {}
    return Carried({parameter: parameter.value for parameter in network.parameters}, state)


def carried(network: Network, updates: tuple, values: Values, state: Values | None = None) -> Carried:
    """What the next training step starts from: the new parameters and the state this step left."""
    parameters = {parameter: values[Quantity("new", parameter=parameter)] for parameter in network.parameters
                  if Quantity("new", parameter=parameter) in values}
    if not updates:
        return Carried(parameters, dict(state or {}))
    return Carried(parameters, next_state(training_of(network), NETWORK_KEYS, network.parameters, values,
                                          state or {}))


def parameter_updates(steps) -> tuple:
    """The steps of ``steps`` that compute a parameter's new value (one per parameter), in order."""
    return tuple(step for step in steps if step.result.kind == "new")


def settled(step, values: Mapping) -> sympy.Expr:
    """An update-stage line's value, as the solution carries it."""
    return settle(step.value(values))
