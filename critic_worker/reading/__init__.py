"""Verdict readers, one per output family: ``scores.read_score`` (a score at the end, "Final Score: N"),
``scores.read_two_scores`` (LLaVA-Bench's first line), ``preferences.read_preference`` (first/second and
WildVision's five labels). Each returns a ``Reading`` (critic_worker.verdicts): the verdict or None, and the reason.
``text`` holds what they share (markdown cleaning, sentences, negation / hypothesis / concession tests) and
``decide`` the rule that picks the verdict among a text's statements. Django-free and torch-free."""
