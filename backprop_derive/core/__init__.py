"""The core: spec reading, formulas, numbers, rules, derivation, evaluation, updates and notation."""
