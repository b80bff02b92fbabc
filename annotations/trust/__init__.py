"""How far to trust the critic, as decisions: can it replace a reviewer (the alt-test), what the response models'
real quality is from the critic plus a sample of people (prediction-powered inference), and how many more human
verdicts, on which items, would settle it (label planning, active inference). Plain arrays in, plain dicts out:
no Django; annotations/selectors/trust.py feeds them from the database."""
