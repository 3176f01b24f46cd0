"""Spec loading and validation: a YAML or JSON spec file to a Network, or one clear SpecError."""

from __future__ import annotations

import decimal
import itertools
import json
import os
import re
import stat
import sys
from pathlib import Path
from typing import Any

import sympy
import yaml

from .errors import SpecError
from .formula import FormulaError
from .limits import MAX_FILE_BYTES
from .network import Example, Network, Node, Options, Parameter
from .numbers import AmbiguousNumber, Rounding, parse_number
from .printable import visible
from .rules import ACTIVATIONS, ALIASES, LOSSES, WITH_ALPHA, ActivationOptions, custom_activation, make_activation
from .steps import Quantity
from .update import OPTIMIZERS, REGULARIZERS, SPEC_KEYS, TRAININGS, Training

TOP_LEVEL = {"title", "inputs", "targets", "target_classes", "layers", "neurons", "loss", "learning_rate",
             "options", "weights_layout", "answer_names", *SPEC_KEYS}
OPTIONS = {"relu_derivative_at_zero", "reduction", "update_biases", "notation", "precision", "delta",
           "input_gradients", "rounding"}
NOTATIONS = ("indexed", "layered", "ng")
REDUCTIONS = ("mean", "sum")
DELTAS = ("derivative", "error_term")
#: ``weights_layout``: W·x (a row per unit, the default) or x·W (a row per input, as cs231n and numpy write).
LAYOUTS = ("unit_by_input", "input_by_unit")
#: ``options.rounding``'s ways of counting digits, and how many a hand solution may keep.
ROUNDING_KINDS = ("decimals", "significant")
MAX_ROUNDING_DIGITS = 30
#: A node name: ASCII letters and digits, so that every quantity's ASCII name is unique and TeX-safe.
NODE_NAME = re.compile(r"[A-Za-z0-9]+")
#: The most a spec or answers file may hold (a spec is a few kilobytes): more is refused before parsing.
MAX_INPUT_BYTES = MAX_FILE_BYTES
#: How a file given as ``-`` (standard input) is named in messages.
STDIN_NAME = "(standard input)"


# --- reading files -----------------------------------------------------------------------


# NOTE: libyaml's parser (CSafeLoader) where PyYAML has it: reading a 13,000-weight spec takes 0.3 s
# instead of 3 s; the constructors below are the same Python code either way.
class _ExactLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML's safe loader, reading numbers as written (decimals as exact Decimals) and refusing duplicate keys."""


#: A whole number as written in decimal digits; YAML 1.1 reads other spellings as numbers too.
_DECIMAL_INTEGER = re.compile(r"[-+]?(0|[1-9][0-9]*)")
#: Why YAML 1.1 reads a number as another value than its digits say, by what the number contains.
_YAML_READINGS = (
    (re.compile(r"_"), "it drops the _"),
    (re.compile(r":"), "a : makes it base 60"),
    (re.compile(r"^[-+]?0x", re.I), "0x makes it hexadecimal"),
    (re.compile(r"^[-+]?0b", re.I), "0b makes it binary"),
    (re.compile(r"^[-+]?0[0-9]"), "a leading 0 makes it octal"),
)


def _as_written(loader: yaml.SafeLoader, node: yaml.ScalarNode, value: object) -> object:
    """``value`` if it is what ``node``'s digits say, else an AmbiguousNumber explaining YAML's reading."""
    text = loader.construct_scalar(node)
    for pattern, why in _YAML_READINGS:
        if pattern.search(text):
            return AmbiguousNumber(text, f"YAML reads {text} as {value} ({why}); write the number in plain "
                                         "decimal digits, or quote it")
    return value


def _exact_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int | AmbiguousNumber:
    value = loader.construct_yaml_int(node)
    return value if _DECIMAL_INTEGER.fullmatch(loader.construct_scalar(node)) else _as_written(loader, node, value)


def _exact_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> decimal.Decimal | float | AmbiguousNumber:
    text = loader.construct_scalar(node)
    try:
        value = decimal.Decimal(text.replace("_", ""))
    except decimal.InvalidOperation:
        value = float(loader.construct_yaml_float(node))
    return _as_written(loader, node, value)


def _mapping_without_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict:
    loader.flatten_mapping(node)
    mapping = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if isinstance(key, (list, dict)):
            raise SpecError(f"a key must be a name or a number, got {describe(key)} (line {line})")
        if key in mapping:
            raise SpecError(f"the key {key!r} appears twice (line {line}); each key may appear once")
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


_ExactLoader.add_constructor("tag:yaml.org,2002:int", _exact_int)
_ExactLoader.add_constructor("tag:yaml.org,2002:float", _exact_float)
_ExactLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def _numbers(count: int) -> str:
    """``1 number``, ``3 numbers``: a count in an error message."""
    return f"{count} number{'s' if count != 1 else ''}"


def input_name(path: str | Path) -> str:
    """How the file at ``path`` is named in messages (``-`` is standard input)."""
    return STDIN_NAME if str(path) == "-" else str(path)


def read_input(path: str | Path) -> bytes:
    """The bytes of a spec or answers file, or of standard input when ``path`` is ``-``.

    Raises:
        SpecError: the file is missing, unreadable, a folder, not a regular file (a FIFO, a device),
            or larger than MAX_INPUT_BYTES.
    """
    name = input_name(path)
    try:
        if str(path) == "-":
            data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
        else:
            # NOTE: O_NONBLOCK: opening a FIFO that no one writes to must not wait; fstat then refuses it.
            handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
            try:
                mode = os.fstat(handle).st_mode
                if stat.S_ISDIR(mode):
                    raise SpecError("this is a folder; expected a YAML or JSON file", file=name)
                if not stat.S_ISREG(mode):
                    raise SpecError("not a regular file (a device, a FIFO or a socket); expected a YAML or JSON "
                                    "file, or - for standard input", file=name)
                with os.fdopen(handle, "rb", closefd=False) as stream:
                    data = stream.read(MAX_INPUT_BYTES + 1)
            finally:
                os.close(handle)
    except FileNotFoundError:
        raise SpecError("no such file", file=name) from None
    except OSError as error:
        raise SpecError(f"cannot read the file ({error.strerror or error})", file=name) from None
    if len(data) > MAX_INPUT_BYTES:
        raise SpecError(f"larger than {MAX_INPUT_BYTES // 2**20} MB; a spec or answers file is a few kilobytes",
                        file=name)
    return data


def read_document(path: str | Path) -> Any:
    """The parsed contents of a YAML or JSON file (``-``: standard input), decimals kept exact.

    Raises:
        SpecError: the file is missing, unreadable, not a regular file, too large, or not valid YAML/JSON.
    """
    name = input_name(path)
    is_json = Path(path).suffix.lower() == ".json"
    try:
        text = read_input(path).decode("utf-8-sig")  # NOTE: -sig: a byte-order mark, as some editors write, is skipped
    except UnicodeDecodeError as error:
        raise SpecError(f"cannot read the file ({error})", file=name) from None
    try:
        if is_json:
            return json.loads(text, parse_float=decimal.Decimal, object_pairs_hook=_json_object)
        return yaml.load(text, Loader=_ExactLoader)  # noqa: S506 — a SafeLoader subclass
    except SpecError as error:
        raise error.with_file(name) from None
    except RecursionError:
        raise SpecError("nested too deeply to be a spec", file=name) from None
    except (yaml.YAMLError, ValueError) as error:  # ValueError: e.g. an integer of more than 4300 digits
        summary = " ".join(str(error).split(";")[0].split())
        raise SpecError(f"not valid {'JSON' if is_json else 'YAML'}: {summary}", file=name) from None


def _json_object(pairs: list[tuple[str, Any]]) -> dict:
    mapping = {}
    for key, value in pairs:
        if key in mapping:
            raise SpecError(f"the key {key!r} appears twice; each key may appear once")
        mapping[key] = value
    return mapping


def read_network(spec: str | Path | dict | Network) -> Network:
    """The Network of a spec given as a file's path, a parsed spec (dict), or a Network already.

    Raises:
        SpecError: naming the file (when there is one), the field path and what was expected.
    """
    if isinstance(spec, Network):
        return spec
    if isinstance(spec, dict):
        return build_network(spec)
    return load_spec(spec)


def load_spec(path: str | Path) -> Network:
    """Read and validate the spec file at ``path`` (``-``: standard input).

    Raises:
        SpecError: naming the file, the field path and what was expected.
    """
    return spec_network(read_document(path), path)


def spec_network(data: Any, path: str | Path) -> Network:
    """The Network of a spec read from ``path``, its errors naming that file."""
    try:
        return build_network(data)
    except SpecError as error:
        raise error.with_file(input_name(path)) from None


# --- validation helpers ------------------------------------------------------------------


def _number(raw: Any, path: str) -> sympy.Rational:
    try:
        return parse_number(raw)
    except ValueError as error:
        raise SpecError(str(error), path) from None


def _mapping(raw: Any, path: str, what: str) -> dict:
    if not isinstance(raw, dict):
        raise SpecError(f"expected {what}, got {describe(raw)}", path)
    return raw


def _list(raw: Any, path: str, what: str) -> list:
    if not isinstance(raw, list) or not raw:
        raise SpecError(f"expected {what}, got {describe(raw)}", path)
    return raw


def _known_keys(mapping: dict, allowed: set[str], path: str) -> None:
    for key in mapping:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            raise SpecError(f"unknown key; expected one of {', '.join(sorted(allowed))}", where)


def describe(raw: Any) -> str:
    """A value found in a user's file, as an error message names it: ``nothing``, ``a list of 3``."""
    if raw is None:
        return "nothing"
    if isinstance(raw, AmbiguousNumber):
        return raw.problem.split(";")[0]
    if isinstance(raw, bool):
        return str(raw).lower()
    if raw == {} or raw == []:
        return f"an empty {'map' if isinstance(raw, dict) else 'list'}"
    if isinstance(raw, (dict, list)):
        return f"a {'map' if isinstance(raw, dict) else 'list'} of {len(raw)}"
    return f"{type(raw).__name__} {raw!r}" if isinstance(raw, str) else f"{raw}"


def _name(raw: Any, path: str) -> str:
    name = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw
    if not isinstance(name, str) or not NODE_NAME.fullmatch(name):
        raise SpecError(f"expected a node name of ASCII letters and digits (like 3 or h1), got {describe(raw)}",
                        path)
    return name


def _by_name(mapping: dict, path: str) -> dict[str, Any]:
    """``mapping`` keyed by node names; 1 and "1" name the same node, so both at once is an error."""
    named: dict[str, Any] = {}
    for key, value in mapping.items():
        name = _name(key, _join(path, key))
        if name in named:
            raise SpecError(f"names node {name} a second time; each node may appear once", _join(path, key))
        named[name] = value
    return named


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


# --- the spec as a whole -----------------------------------------------------------------


def build_network(data: Any) -> Network:
    """Validate a parsed spec and build its Network.

    Raises:
        SpecError: naming the field path and what was expected.
    """
    spec = _mapping(data, "", "a map with inputs, targets and layers or neurons")
    _known_keys(spec, TOP_LEVEL, "")
    if ("layers" in spec) == ("neurons" in spec):
        raise SpecError("expected exactly one of layers (dense form) or neurons (named form)",
                        "layers" if "layers" in spec else "")
    options = _options(spec.get("options", {}))
    loss_name = spec.get("loss", "half_squared_error")
    if not isinstance(loss_name, str):
        raise SpecError(f"expected a loss name ({', '.join(LOSSES)}), got {describe(loss_name)}", "loss")
    if loss_name not in LOSSES:
        raise SpecError(f"unknown loss {loss_name!r}; expected one of {', '.join(LOSSES)}", "loss")
    if "inputs" not in spec:
        raise SpecError("missing; every spec needs inputs", "inputs")
    _check_targets_given(spec, loss_name)
    layout = spec.get("weights_layout", "unit_by_input")
    if layout not in LAYOUTS:
        raise SpecError(f"expected one of {', '.join(LAYOUTS)}, got {describe(layout)}", "weights_layout")
    if "weights_layout" in spec and "layers" not in spec:
        raise SpecError("applies to dense layers only (named neurons name each weight's source)", "weights_layout")
    training, learning_rate = read_training(spec)
    title = spec.get("title", "")
    if not isinstance(title, str):
        raise SpecError(f"expected a line of text, got {describe(title)}", "title")
    # NOTE: kept printable here, once, so that no format can print a line break or a terminal sequence from it.
    title = visible(title)
    builder = _dense if "layers" in spec else _named
    form, inputs, neurons, outputs, examples, batched = builder(spec, options)
    parameters = tuple(_parameters_in_order(neurons))
    return Network(title=title, form=form, inputs=tuple(inputs), neurons=tuple(neurons),
                   outputs=tuple(outputs), parameters=parameters, examples=tuple(examples),
                   loss=LOSSES[loss_name], learning_rate=learning_rate, options=options, batched=batched,
                   weights_layout=layout, answer_names=_answer_names(spec.get("answer_names", {})),
                   training=training, frozen=_frozen(training.frozen, form, neurons, parameters, options))


def learning_rate_of(spec: dict) -> sympy.Rational | None:
    """The spec's learning rate (a positive number: top-level or ``optimizer.learning_rate``), or None without one."""
    return read_training(spec)[1]


def _frozen(names: tuple[str, ...], form: str, neurons, parameters, options: Options) -> tuple[Parameter, ...]:
    """The parameters ``frozen`` names, by their names in any notation (``w13``, ``W[1]_11``, ``b5``)."""
    if not names:
        return ()
    from .notation import NOTATIONS as STYLES  # NOTE: naming needs the network built first
    from .notation import Notation

    probe = Network(title="", form=form, inputs=(), neurons=tuple(neurons), outputs=(), parameters=parameters,
                    examples=(), loss=LOSSES["half_squared_error"], learning_rate=None, options=options,
                    batched=False)
    by_name: dict[str, Parameter] = {}
    for style in STYLES:
        notation = Notation(probe, style)
        for parameter in parameters:
            by_name.setdefault(notation.ascii(Quantity("param", parameter=parameter)), parameter)
    frozen = []
    for index, name in enumerate(names):
        if name not in by_name:
            close = ", ".join(list(by_name)[:8])
            raise SpecError(f"no parameter is named {name!r}; expected names such as {close}", f"frozen[{index}]")
        frozen.append(by_name[name])
    return tuple(dict.fromkeys(frozen))


def read_training(spec: dict) -> tuple[Training, sympy.Rational | None]:
    """The spec's ``optimizer``, ``regularization``, ``training`` and ``frozen``, and the learning rate.

    A top-level ``learning_rate`` alone means plain SGD; ``optimizer.learning_rate`` is the other place
    to give it, never both.

    Raises:
        SpecError: naming the field path and what was expected.
    """
    rate = None
    if spec.get("learning_rate") is not None:
        rate = _positive(spec["learning_rate"], "learning_rate")
    name, settings = "sgd", {}
    if "optimizer" in spec:
        raw = _mapping(spec["optimizer"], "optimizer", "a map with name and the optimizer's fields")
        if "name" not in raw:
            raise SpecError(f"missing; expected an optimizer name ({', '.join(OPTIMIZERS)})", "optimizer.name")
        name = raw["name"]
        if not isinstance(name, str) or name not in OPTIMIZERS:
            raise SpecError(f"expected an optimizer name ({', '.join(OPTIMIZERS)}), got {describe(name)}",
                            "optimizer.name")
        rule = OPTIMIZERS[name]
        _known_keys(raw, {"name", "learning_rate", *rule.fields}, "optimizer")
        if "learning_rate" in raw:
            if rate is not None:
                raise SpecError("given twice: keep either the top-level learning_rate or optimizer.learning_rate",
                                "optimizer.learning_rate")
            rate = _positive(raw["learning_rate"], "optimizer.learning_rate")
        if rate is None:
            raise SpecError(f"{name} needs a learning rate: give optimizer.learning_rate", "optimizer")
        for field_name, default in rule.fields.items():
            path = f"optimizer.{field_name}"
            if field_name == "nesterov":
                value = raw.get(field_name, False)
                if not isinstance(value, bool):
                    raise SpecError(f"expected true or false, got {describe(value)}", path)
                settings[field_name] = value
                continue
            value = _number(raw[field_name], path) if field_name in raw else parse_number(default)
            _check_range(field_name, value, path)
            settings[field_name] = value
    regularization, biases = None, False
    if "regularization" in spec:
        raw = _mapping(spec["regularization"], "regularization", "a map such as {l2: 0.01}")
        _known_keys(raw, {*REGULARIZERS, "biases"}, "regularization")
        kinds = [kind for kind in REGULARIZERS if kind in raw]
        if len(kinds) != 1:
            raise SpecError("expected exactly one of l2 or l1", "regularization")
        regularization = (kinds[0], _number(raw[kinds[0]], f"regularization.{kinds[0]}"))
        if regularization[1] < 0:
            raise SpecError("expected a number at least 0", f"regularization.{kinds[0]}")
        biases = raw.get("biases", False)
        if not isinstance(biases, bool):
            raise SpecError(f"expected true or false, got {describe(biases)}", "regularization.biases")
    training = spec.get("training", "batch")
    if training not in TRAININGS:
        raise SpecError(f"expected one of {', '.join(TRAININGS)}, got {describe(training)}", "training")
    frozen = spec.get("frozen", [])
    if not isinstance(frozen, list) or not all(isinstance(item, (str, int)) and not isinstance(item, bool)
                                               for item in frozen):
        raise SpecError(f"expected a list of parameter names (as `names` writes them), got {describe(frozen)}",
                        "frozen")
    if rate is None and (regularization or spec.get("training") == "online" or frozen):
        field_name = next(key for key in ("regularization", "training", "frozen") if key in spec)
        raise SpecError("applies to updates: give a learning_rate", field_name)
    settings_items = tuple(settings.items())
    return Training(name, settings_items, regularization, biases, training == "online",
                    tuple(str(item) for item in frozen)), rate


def _positive(raw: Any, path: str) -> sympy.Rational:
    value = _number(raw, path)
    if value <= 0:
        raise SpecError("expected a positive number", path)
    return value


def _check_range(name: str, value: sympy.Rational, path: str) -> None:
    """Each field's range, as torch.optim checks it."""
    if name in ("beta1", "beta2", "alpha", "momentum"):
        if not 0 <= value < 1:
            raise SpecError("expected a number from 0 up to (not including) 1", path)
    elif name == "epsilon":
        if value <= 0:
            raise SpecError("expected a positive number", path)
    elif value < 0:
        raise SpecError("expected a number at least 0", path)


def _answer_names(raw: Any) -> tuple[tuple[str, str], ...]:
    """``answer_names``: a course's own name for each quantity it names (checked against the solution by check)."""
    names = raw if raw == {} else _mapping(raw, "answer_names", "a map from a course's names to the solution's")
    pairs = []
    for name, target in names.items():
        if not isinstance(name, str) or not name.strip() or ":" in name or not name.isprintable():
            raise SpecError(f"expected a course's name for a quantity such as out_h1, got {describe(name)}",
                            "answer_names")
        if not isinstance(target, str) or not target.strip():
            raise SpecError(f"expected the solution's name of a quantity such as a[1]_1, got {describe(target)}",
                            f"answer_names.{name}")
        pairs.append((name.strip(), target.strip()))
    return tuple(pairs)



def _check_targets_given(spec: dict, loss_name: str) -> None:
    """Exactly one of targets and target_classes, or neither with ``loss: none``."""
    given = [key for key in ("targets", "target_classes") if key in spec]
    if not LOSSES[loss_name].targets:
        if given:
            raise SpecError("loss: none differentiates the output itself, so there are no targets; "
                            f"remove {given[0]}", given[0])
        return
    if not given:
        raise SpecError("missing; every spec needs targets (or target_classes, or loss: none)", "targets")
    if len(given) == 2:
        raise SpecError("expected targets or target_classes, not both", "target_classes")


def _class_rows(raw: Any, examples: int, outputs: int) -> list[list[sympy.Integer]]:
    """``target_classes`` (one 0-based class index per example) as one-hot target rows."""
    what = f"a list of {examples} class indices (0 to {outputs - 1}), one per example"
    classes = _list(raw, "target_classes", what)
    if len(classes) != examples:
        raise SpecError(f"expected {what}, got {describe(classes)}", "target_classes")
    rows = []
    for index, label in enumerate(classes):
        if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < outputs:
            raise SpecError(f"expected a class index from 0 to {outputs - 1} (one per output unit), "
                            f"got {describe(label)}", f"target_classes[{index}]")
        rows.append([sympy.Integer(int(unit == label)) for unit in range(outputs)])
    return rows


def _options(raw: Any) -> Options:
    options = _mapping(raw, "options", "a map of options")
    _known_keys(options, OPTIONS, "options")
    resolved = {}
    if "relu_derivative_at_zero" in options:
        resolved["relu_derivative_at_zero"] = _number(options["relu_derivative_at_zero"],
                                                      "options.relu_derivative_at_zero")
    for key, allowed in (("reduction", REDUCTIONS), ("notation", NOTATIONS)):
        if key in options:
            if options[key] not in allowed:
                raise SpecError(f"expected one of {', '.join(allowed)}, got {describe(options[key])}",
                                f"options.{key}")
            resolved[key] = options[key]
    if "update_biases" in options:
        if not isinstance(options["update_biases"], bool):
            raise SpecError(f"expected true or false, got {describe(options['update_biases'])}",
                            "options.update_biases")
        resolved["update_biases"] = options["update_biases"]
    if "precision" in options:
        precision = options["precision"]
        if isinstance(precision, bool) or not isinstance(precision, int) or not 1 <= precision <= 30:
            raise SpecError(f"expected a whole number from 1 to 30, got {describe(precision)}",
                            "options.precision")
        resolved["precision"] = precision
    if "delta" in options:
        if options["delta"] not in DELTAS:
            raise SpecError(f"expected one of {', '.join(DELTAS)}, got {describe(options['delta'])}", "options.delta")
        resolved["delta"] = options["delta"]
    if "input_gradients" in options:
        if not isinstance(options["input_gradients"], bool):
            raise SpecError(f"expected true or false, got {describe(options['input_gradients'])}",
                            "options.input_gradients")
        resolved["input_gradients"] = options["input_gradients"]
    if "rounding" in options:
        resolved["rounding"] = _rounding(options["rounding"], "options.rounding", nested=True)
    return Options(**resolved)


def _rounding(raw: Any, path: str, nested: bool) -> Rounding:
    """``{decimals: N}`` or ``{significant: N}``, optionally with ``backward:`` another such map."""
    what = "a map with decimals: N or significant: N" + (" (and optionally backward: the same)" if nested else "")
    rounding = _mapping(raw, path, what)
    _known_keys(rounding, set(ROUNDING_KINDS) | ({"backward"} if nested else set()), path)
    kinds = [kind for kind in ROUNDING_KINDS if kind in rounding]
    if len(kinds) != 1:
        raise SpecError(f"expected {what}, got {describe(rounding)}", path)
    digits = rounding[kinds[0]]
    lowest = 0 if kinds[0] == "decimals" else 1
    if isinstance(digits, bool) or not isinstance(digits, int) or not lowest <= digits <= MAX_ROUNDING_DIGITS:
        raise SpecError(f"expected a whole number from {lowest} to {MAX_ROUNDING_DIGITS}, got {describe(digits)}",
                        f"{path}.{kinds[0]}")
    backward = _rounding(rounding["backward"], f"{path}.backward", nested=False) if "backward" in rounding else None
    return Rounding(digits, kinds[0] == "significant", backward)


def _activation(raw: Any, path: str, options: Options, dense: bool):
    known = ", ".join(sorted(set(ACTIVATIONS) | set(ALIASES)))
    if isinstance(raw, str):
        name, alpha = raw, None
    elif isinstance(raw, dict) and "expr" in raw:
        _known_keys(raw, {"expr"}, path)
        if not isinstance(raw["expr"], str):
            raise SpecError(f"expected a formula in x as text, got {describe(raw['expr'])}", f"{path}.expr")
        try:
            return custom_activation(raw["expr"])
        except FormulaError as error:
            raise SpecError(str(error), f"{path}.expr") from None
    elif isinstance(raw, dict):
        _known_keys(raw, {"name", "alpha"}, path)
        if "name" not in raw:
            raise SpecError(f"missing; expected an activation name ({known})", f"{path}.name")
        name = raw["name"]
        if not isinstance(name, str):
            raise SpecError(f"expected an activation name ({known}), got {describe(name)}", f"{path}.name")
        alpha = _number(raw["alpha"], f"{path}.alpha") if "alpha" in raw else None
        if alpha is not None and name not in WITH_ALPHA:
            raise SpecError(f"alpha applies only to {' and '.join(sorted(WITH_ALPHA))}", f"{path}.alpha")
    else:
        raise SpecError(f"expected an activation name ({known}) or a map with name or expr, got {describe(raw)}",
                        path)
    if name not in ACTIVATIONS and name not in ALIASES:
        raise SpecError(f"unknown activation {name!r}; expected one of {known}, or {{expr: \"...\"}}", path)
    activation = make_activation(name, ActivationOptions(alpha, options.relu_derivative_at_zero))
    if activation.layerwise and not dense:
        raise SpecError("softmax normalises a whole layer, so it is for dense layers only", path)
    return activation


# --- dense layers ------------------------------------------------------------------------


def _rows(raw: Any, path: str, width: int | None, what: str) -> tuple[list[list[sympy.Rational]], bool]:
    """A flat list (one example) or a list of lists (a batch) of numbers, each of ``width``."""
    rows = _list(raw, path, what)
    batched = isinstance(rows[0], list)
    if not batched:
        rows = [rows]
    parsed = []
    for index, row in enumerate(rows):
        row_path = f"{path}[{index}]" if batched else path
        if not isinstance(row, list) or any(isinstance(item, list) for item in row):
            raise SpecError(f"expected {what}, got {describe(row)}", row_path)
        if width is not None and len(row) != width:
            raise SpecError(f"expected {_numbers(width)}, got {len(row)}", row_path)
        width = len(row)
        parsed.append([_number(item, f"{row_path}[{column}]") for column, item in enumerate(row)])
    return parsed, batched


def _dense(spec: dict, options: Options):
    input_rows, batched = _rows(spec["inputs"], "inputs", None,
                                "a list of numbers (one example) or a list of such lists (a batch)")
    layers = _list(spec["layers"], "layers", "a list of layers")
    by_input = spec.get("weights_layout") == "input_by_unit"
    counter = itertools.count(1)
    inputs = [Node(str(next(counter)), 0, unit) for unit in range(1, len(input_rows[0]) + 1)]
    previous, neurons = inputs, []
    for number, raw_layer in enumerate(layers):
        path = f"layers[{number}]"
        layer = _mapping(raw_layer, path, "a map with activation, weights and optionally biases")
        _known_keys(layer, {"activation", "weights", "biases"}, path)
        for required in ("activation", "weights"):
            if required not in layer:
                raise SpecError("missing", f"{path}.{required}")
        activation = _activation(layer["activation"], f"{path}.activation", options, dense=True)
        rows = _weight_rows(layer["weights"], f"{path}.weights", len(previous), by_input)
        units = [Node(str(next(counter)), number + 1, unit, activation) for unit in range(1, len(rows) + 1)]
        for unit, row in zip(units, rows):
            unit.incoming = [Parameter("weight", unit, value, ("layers", number, "weights", *where), source=source)
                             for source, (value, where) in zip(previous, row)]
            if activation.layerwise:
                unit.group = tuple(units)
        _dense_biases(layer.get("biases"), f"{path}.biases", number, units, options)
        neurons.extend(units)
        previous = units
    if "targets" in spec:
        target_rows, target_batched = _rows(spec["targets"], "targets", len(previous),
                                            f"a list of {_numbers(len(previous))}, one per output unit")
        _same_batch(len(input_rows), batched, len(target_rows), target_batched)
    elif "target_classes" in spec:
        target_rows = _class_rows(spec["target_classes"], len(input_rows), len(previous))
    else:
        _single_output([unit.name for unit in previous], "loss")
        target_rows = [[] for _ in input_rows]
    examples = [Example(dict(zip(inputs, row)), dict(zip(previous, targets)))
                for row, targets in zip(input_rows, target_rows)]
    return "dense", inputs, neurons, previous, examples, batched


def _single_output(outputs: list[str], path: str) -> None:
    if len(outputs) != 1:
        raise SpecError(f"loss: none differentiates a single output, but the network has {len(outputs)} "
                        f"({', '.join(outputs)}); give targets and a loss instead", path)


def _weight_rows(raw: Any, path: str, inputs: int, by_input: bool) -> list[list[tuple[sympy.Rational, tuple]]]:
    """A layer's weights, one row per unit of (value, index path in the spec), whichever the layout.

    ``weights[j][i]`` (unit by input) is read as written; ``weights[i][j]`` (input by unit) is
    transposed, each weight keeping the place it was written at.
    """
    if by_input:
        what = f"a list of {inputs} rows (weights[i][j] from input i to unit j), one per unit of the layer below"
    else:
        what = f"a list of rows (weights[j][i] from unit i below to unit j), each of {inputs} numbers"
    matrix = _list(raw, path, what)
    if not all(isinstance(row, list) for row in matrix):
        raise SpecError(f"expected {what}", path)
    if by_input:
        if len(matrix) != inputs:
            raise SpecError(f"expected {what}, got {len(matrix)} rows", path)
        units = len(matrix[0])
        for i, row in enumerate(matrix):
            if not row or len(row) != units:
                raise SpecError(f"expected {_numbers(units) if units else 'at least 1 number'} (one per unit of this layer), "
                                f"got {len(row)}", f"{path}[{i}]")
        return [[(_number(matrix[i][j], f"{path}[{i}][{j}]"), (i, j)) for i in range(inputs)] for j in range(units)]
    rows = []
    for j, row in enumerate(matrix):
        if len(row) != inputs:
            raise SpecError(f"expected {_numbers(inputs)} (one per unit of the layer below), got {len(row)}",
                            f"{path}[{j}]")
        rows.append([(_number(value, f"{path}[{j}][{i}]"), (j, i)) for i, value in enumerate(row)])
    return rows


def _dense_biases(raw: Any, path: str, number: int, units: list[Node], options: Options) -> None:
    if raw is None:
        return
    trainable = options.update_biases
    if not isinstance(raw, list):
        shared = Parameter("bias", units[0], _number(raw, path), ("layers", number, "biases"),
                           users=tuple(units), trainable=trainable)
        for unit in units:
            unit.bias = shared
        return
    if len(raw) != len(units):
        raise SpecError(f"expected {_numbers(len(units))} (one per unit), or one number shared by the layer, "
                        f"got {len(raw)}", path)
    for j, (unit, value) in enumerate(zip(units, raw)):
        unit.bias = Parameter("bias", unit, _number(value, f"{path}[{j}]"), ("layers", number, "biases", j),
                              users=(unit,), trainable=trainable)


def _same_batch(inputs: int, inputs_batched: bool, targets: int, targets_batched: bool) -> None:
    if inputs_batched != targets_batched or inputs != targets:
        def shape(count: int, batched: bool) -> str:
            return f"a batch of {count}" if batched else "one example"
        raise SpecError(f"expected one target row per example: inputs are {shape(inputs, inputs_batched)}, "
                        f"targets {shape(targets, targets_batched)}", "targets")


# --- named neurons -----------------------------------------------------------------------


def _named_examples(raw: Any, path: str, what: str) -> tuple[list[dict], bool]:
    batched = isinstance(raw, list)
    rows = _list(raw, path, what) if batched else [_mapping(raw, path, what)]
    parsed = []
    for index, row in enumerate(rows):
        row_path = f"{path}[{index}]" if batched else path
        row = _mapping(row, row_path, what)
        if not row:
            raise SpecError(f"expected {what}, got an empty map", row_path)
        parsed.append({name: _number(value, _join(row_path, name)) for name, value in _by_name(row, row_path).items()})
        if set(parsed[-1]) != set(parsed[0]):
            raise SpecError(f"expected the same nodes as the first example ({', '.join(parsed[0])})", row_path)
    return parsed, batched


def _named(spec: dict, options: Options):
    input_rows, batched = _named_examples(spec["inputs"], "inputs",
                                          "a map from input node to value (or a list of such maps)")
    raw_neurons = _mapping(spec["neurons"], "neurons", "a map from neuron name to {activation, in, bias}")
    if not raw_neurons:
        raise SpecError("expected at least one neuron", "neurons")
    inputs = {name: Node(name, 0, unit) for unit, name in enumerate(input_rows[0], start=1)}
    definitions = {}
    for name, raw in _by_name(raw_neurons, "neurons").items():
        path = f"neurons.{name}"
        if name in inputs:
            raise SpecError(f"{name} is already an input node", path)
        neuron = _mapping(raw, path, "a map with activation, in and optionally bias or threshold")
        _known_keys(neuron, {"activation", "in", "bias", "threshold"}, path)
        if neuron.get("bias") is not None and neuron.get("threshold") is not None:
            raise SpecError("expected bias or threshold, not both (a threshold θ is a bias of −θ)",
                            f"{path}.threshold")
        for required in ("activation", "in"):
            if required not in neuron:
                raise SpecError("missing", f"{path}.{required}")
        sources = _mapping(neuron["in"], f"{path}.in", "a map from source node to weight")
        if not sources:
            raise SpecError("expected at least one incoming weight", f"{path}.in")
        definitions[name] = (path, neuron, _by_name(sources, f"{path}.in"))
    for path, _, sources in definitions.values():
        for source in sources:
            if source not in inputs and source not in definitions:
                raise SpecError(f"no node named {source}; expected an input ({', '.join(inputs)}) or a neuron",
                                f"{path}.in.{source}")
    order = _topological_order(definitions)
    nodes: dict[str, Node] = dict(inputs)
    depth_units: dict[int, int] = {}
    neurons = []
    for name in order:
        path, neuron, sources = definitions[name]
        depth = 1 + max(nodes[source].layer for source in sources)
        depth_units[depth] = depth_units.get(depth, 0) + 1
        node = Node(name, depth, depth_units[depth],
                    _activation(neuron["activation"], f"{path}.activation", options, dense=False))
        node.incoming = [Parameter("weight", node, _number(weight, f"{path}.in.{source}"),
                                   ("neurons", name, "in", source), source=nodes[source])
                         for source, weight in sources.items()]
        for kind in ("bias", "threshold"):
            if neuron.get(kind) is not None:
                node.bias = Parameter(kind, node, _number(neuron[kind], f"{path}.{kind}"), ("neurons", name, kind),
                                      users=(node,), trainable=options.update_biases)
        nodes[name] = node
        neurons.append(node)
    fed = {source for _, _, sources in definitions.values() for source in sources}
    # NOTE: without targets, the outputs are the neurons that feed no other, in the spec's order.
    sinks = [name for name in definitions if name not in fed]
    if "targets" in spec:
        target_rows, target_batched = _named_examples(
            spec["targets"], "targets", "a map from output neuron to target value (or a list of such maps)")
        _same_batch(len(input_rows), batched, len(target_rows), target_batched)
    elif "target_classes" in spec:
        target_rows = [dict(zip(sinks, row)) for row in _class_rows(spec["target_classes"], len(input_rows),
                                                                    len(sinks))]
    else:
        _single_output(sinks, "loss")
        target_rows = [dict.fromkeys(sinks) for _ in input_rows]
    for name in target_rows[0]:
        if name not in definitions:
            raise SpecError(f"{name} is not a neuron; targets name output neurons ({', '.join(order)})",
                            f"targets.{name}")
    outputs = [nodes[name] for name in target_rows[0]]
    for name in order:
        if name not in fed and name not in target_rows[0]:
            raise SpecError("feeds no other neuron and has no target; add it to targets or connect it",
                            f"neurons.{name}")
    examples = [Example({inputs[name]: value for name, value in row.items()},
                        {nodes[name]: value for name, value in targets.items() if value is not None})
                for row, targets in zip(input_rows, target_rows)]
    return "named", list(inputs.values()), sorted(neurons, key=lambda n: (n.layer, order.index(n.name))), \
        outputs, examples, batched


def _topological_order(definitions: dict) -> list[str]:
    """Neuron names, each after every neuron it reads from; a cycle is a SpecError."""
    order: list[str] = []
    state: dict[str, str] = {}
    # NOTE: depth first with a stack of (name, its sources left to visit), not recursion: a chain of
    # 1,000 neurons would pass Python's recursion limit.
    for root in definitions:
        if root in state:
            continue
        state[root] = "open"
        stack = [(root, iter(definitions[root][2]))]
        while stack:
            name, sources = stack[-1]
            source = next((source for source in sources if source in definitions and state.get(source) != "done"),
                          None)
            if source is None:
                state[name] = "done"
                order.append(name)
                stack.pop()
            elif state.get(source) == "open":
                trail = [entry for entry, _ in stack]
                cycle = trail[trail.index(source):] + [source]
                raise SpecError(f"the neurons form a cycle {' → '.join(cycle)}; a network must feed forward",
                                f"neurons.{source}.in")
            else:
                state[source] = "open"
                stack.append((source, iter(definitions[source][2])))
    return order


def _parameters_in_order(neurons: list[Node]):
    seen_biases = set()
    for neuron in neurons:
        yield from neuron.incoming
        if neuron.bias is not None and id(neuron.bias) not in seen_biases:
            seen_biases.add(id(neuron.bias))
            yield neuron.bias
