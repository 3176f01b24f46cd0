"""Limits: every bound on the size of an input or a computed value, in one place.

Each bound keeps one run of any command within about 10 s and 1 GB, whatever the input the
spec's grammar accepts; passing one gives a line that names the limit, never a hang.
"""

#: Largest spec or answers file read, in bytes: YAML is parsed at about 4 s a MB, and a network of
#: MAX_PARAMETERS takes about 300 kB.
MAX_FILE_BYTES = 2**20

#: Numbers read from a user's file lie within 10^±MAX_INPUT_EXPONENT in size (or are 0).
MAX_INPUT_EXPONENT = 100
#: A custom formula: at most this many characters; numbers in exponents (of ** or exp) within
#: ±MAX_FORMULA_EXPONENT; no number in it over MAX_FORMULA_BITS bits.
MAX_FORMULA_LENGTH = 500
MAX_FORMULA_EXPONENT = 100
MAX_FORMULA_BITS = 2048

#: Largest network worked through: weights and biases, neurons, examples in a batch.
MAX_PARAMETERS = 20_000
MAX_NEURONS = 2_000
MAX_EXAMPLES = 1_000
#: Most values one solution computes: (neurons + parameters) × examples × steps (a batch of
#: 10,000 examples took 38 s: about 0.3 ms a value).
MAX_VALUES = 20_000
#: Most chain-rule factors a written solution (every format but JSON) writes out:
#: (neurons + parameters × layers) × examples × steps, since each gradient is written as the
#: product along its path. About 0.35 ms each: Mazur's 2-2-2 network over --steps 1000 (24,000) takes 8.5 s.
MAX_WRITTEN = 25_000

#: Computed values lie within 10^±MAX_VALUE_EXPONENT in size (or are 0); beyond, one clear line.
#: NOTE: SymPy and mpmath take time that grows with the digits of an exponent: 3**(10**10000)
#: runs for minutes, so each power and exponential is sized before it is computed.
MAX_VALUE_EXPONENT = 10_000
#: An exact value (a fraction) keeps at most this many digits in numerator and denominator
#: together; a longer one is carried as a Float of numbers.DIGITS digits instead.
MAX_EXACT_DIGITS = 1_000

#: A custom activation's formula nests at most this deep (exp(exp(x)) is 3: exp, exp, x); each
#: level multiplies the size of its derivative's printed form.
MAX_FORMULA_DEPTH = 12

#: A custom activation's derivative is looked for in its output (y(1 − y)) by solving y = f(x)
#: only while f has at most this many operations and no function inside a function: SymPy's
#: solve takes 20 s on tanh(tanh(x)) and does not end on tanh(tanh(tanh(tanh(x)))).
MAX_OPS_IN_OUTPUT_FORM = 12
MAX_FUNCTION_NESTING = 1

#: Most factors derive's general formulas write with each chain rule expanded over every path
#: (its JSON lists them all): Σ over neurons of routes to the loss × (weights in + 3) × layers
#: above. A 16-36-32-16-8 network has 4,096 routes from each input weight, 12 million factors.
MAX_EXPANDED = 50_000

#: generate: the largest --weights range (numbers a student multiplies by hand), the most units a
#: layer of --arch may have (a hand exercise, not a model), draws tried per variant before giving up,
#: and redraws of a variant that repeats an earlier one.
MAX_WEIGHT_RANGE = 1000
MAX_UNITS = 20
MAX_DRAWS = 20000
MAX_REDRAWS = 100

#: generate: most variants in one run, and most chain-rule factors all of them write together
#: (each variant is drawn, solved and written; a 2-2-1 variant writes 15 and takes about 40 ms).
MAX_VARIANTS = 1_000
MAX_GENERATED = 3_000
#: generate gives up on a variant after this many draws with no solution at all (a formula whose
#: values leave 10^±MAX_VALUE_EXPONENT for any numbers drawn), each a whole solve.
MAX_UNSOLVED_DRAWS = 50
