"""Verdict texts in the shapes real judges write (LLaVA-Critic, GPT-4o, Gemini, Qwen-VL, MLLM-as-a-Judge), each with
the reading a careful person gives it. Written for this table; they drive tests/critic_worker/test_verdict_texts.py.

Each row: (profile, text, expected). expected is a score on the profile's range, "A" / "B" / "tie", ("A", True)
for WildVision's strong preference, or None when a careful reader cannot tell (the reason is then checked to be
specific). A profile is a built-in one's name or one of DEFINED, a team's profiles as profile_for builds them; more
judges' texts, each read by several profiles, are in verdict_texts_scores.py and verdict_texts_preferences.py.
"""

from __future__ import annotations

from functools import cache

from critic_worker.profile_specs import ProfileSpec, profile_from_spec
from critic_worker.profiles import Profile, get_profile
from tests.critic_worker.verdict_texts_preferences import PREFERENCE_TEXTS
from tests.critic_worker.verdict_texts_scores import SCORE_TEXTS

Expected = float | str | tuple[str, bool] | None

POINTWISE: list[tuple[str, str, Expected]] = [
    # The issue's own cases.
    ("pointwise", "Score: 8.5/10", 85),
    ("pointwise", "I would rate it 7 out of 10", 70),
    ("pointwise", "**Score**: 85", 85),
    (
        "pointwise",
        "The answer names the dog and the frisbee correctly and deserves a score of 85. A perfect score of 100 "
        "would require mentioning the park in the background.",
        85,
    ),
    # LLaVA-Critic quick-start style: reasons, then a number.
    (
        "pointwise",
        "The response correctly identifies the red bus and the two pedestrians, but it misreads the sign as 'Main "
        "St' when it says 'Maine St'. Overall, I would give this response a score of 72.",
        72,
    ),
    ("pointwise", "The LMM response is accurate and detailed.\n\nScore: 90", 90),
    ("pointwise", "The description is mostly right. I'd score it 64/100.", 64),
    ("pointwise", "Score: 72/100\nThe response is accurate but brief.", 72),
    ("pointwise", "Rating: 4/5\n\nThe answer is correct but misses the colour of the car.", 80),
    ("pointwise", "I rate this response 3 out of 5 because it misses two of the four objects.", 60),
    ("pointwise", "The score is 78.", 78),
    ("pointwise", "My rating: 88/100 - accurate, complete, well organised.", 88),
    ("pointwise", "Final Score: 8.5/10", 85),
    ("pointwise", "Overall score: 7/10", 70),
    ("pointwise", "The response is solid, 85%.\n\nScore: 85%", 85),
    # GPT-4o: markdown headers, bold, several aspect scores, then the overall one.
    (
        "pointwise",
        "### Evaluation\n\n- **Accuracy**: 8/10 - the objects are right.\n- **Detail**: 6/10 - the background is "
        "ignored.\n- **Relevance**: 9/10\n\n### Overall Score\n\n**7.5/10**",
        75,
    ),
    (
        "pointwise",
        "**Accuracy:** 9/10\n**Completeness:** 7/10\n**Clarity:** 8/10\n\n**Overall score: 80/100**\n\nThe answer "
        "would be perfect with the missing detail about the window.",
        80,
    ),
    (
        "pointwise",
        "## Assessment\nThe response identifies 3 cats and 1 dog, as the image shows.\n\n**Final Score: 92**",
        92,
    ),
    ("pointwise", "**Score: 65/100**\n\nThe model hallucinates a second person.", 65),
    ("pointwise", "Score (out of 100): 70", 70),
    ("pointwise", "Score (1-10): 8", round((8 - 1) * 100 / 9, 2)),
    # Gemini: "Overall score", a scale named once, trailing chatter.
    (
        "pointwise",
        "I will evaluate the response on a scale of 1 to 10.\n\nThe answer is correct about the weather but wrong "
        "about the time of day.\n\nRating: 6",
        round((6 - 1) * 100 / 9, 2),
    ),
    (
        "pointwise",
        "Overall Score: 9/10\n\nLet me know if you would like me to evaluate another response!",
        90,
    ),
    ("pointwise", "**Overall, I would rate it 7 out of 10.** It is helpful but incomplete.", 70),
    ("pointwise", "On a scale of 1 to 10, I would rate it 8.", round((8 - 1) * 100 / 9, 2)),
    ("pointwise", "8 on a scale of 1 to 10.", round((8 - 1) * 100 / 9, 2)),
    # Qwen-VL: short, plain, sometimes just the number on a scale.
    ("pointwise", "The answer is partly correct. 6/10.", 60),
    ("pointwise", "The response deserves 55 points out of 100.", 55),
    ("pointwise", "Judgement: 40", 40),
    ("pointwise", "The response is good.\n[[82]]", 82),
    ("pointwise", "Score = 33", 33),
    # Conclusions that revise earlier numbers; hypothetical and negated mentions.
    ("pointwise", "Initially I thought 80, but after checking the sign again, Score: 60", 60),
    ("pointwise", "Score: 85\n\nOn reflection, the count of birds is wrong.\n\nFinal Score: 70", 70),
    ("pointwise", "I would not give it 90, since it misses the dog. I give it 70.", 70),
    ("pointwise", "If it had named the breed, it would deserve 95. As it is, I rate it 80.", 80),
    ("pointwise", "A score of 100 is reserved for flawless answers. This one earns 88.", 88),
    ("pointwise", "The maximum score is 100. Score: 45", 45),
    ("pointwise", "It could have scored 90 with more detail. Score: 75/100.", 75),
    ("pointwise", "The response mentions 3 cats and 2 dogs. Score: 50", 50),
    ("pointwise", "Compared with a typical answer scoring 60, this is better. Score: 74", 74),
    ("pointwise", "Score: 8.5/10 (that is, 85/100).", 85),
    # Unreadable: no verdict, out of range, ranges, only aspects, ambiguity, hedges.
    ("pointwise", "A thoughtful and well-organised answer.", None),
    ("pointwise", "Score: 250", None),
    ("pointwise", "Score: 12/10", None),
    ("pointwise", "Score: 70-80", None),
    ("pointwise", "I would rate it 7 or 8 out of 10.", None),
    ("pointwise", "- Accuracy: 8/10\n- Detail: 6/10\n- Relevance: 9/10", None),
    ("pointwise", "Final Score: 85 Overall score: 60", None),
    ("pointwise", "A perfect score of 100 would require the breed of the dog.", None),
    ("pointwise", "I cannot give it a score of 90.", None),
    ("pointwise", "Score: -5", None),
    ("pointwise", "", None),
    ("caption", "The caption is accurate.\nFinal Score: 81", 81),
    ("caption", "Final Score: **66**", 66),
    ("caption", "The text caption covers the main objects.\n\nFinal Score: 8.5/10", 85),
    ("caption", "Final Score\uff1a75", 75),  # a full-width colon, as Qwen-VL writes in Chinese mode
    ("caption", "**Final Score:** 90\n\nI hope this evaluation helps.", 90),
    ("caption", "### Final Score\n\n72", 72),
    (
        "caption",
        "The caption says there are two boats; the image has three. It invents a lighthouse.\n\nFinal Score: 35",
        35,
    ),
    ("caption", "Final Score: 40\n\nNote: a score of 100 would need every object named.", 40),
    ("caption", "From 0 to 100, I rate this Text Caption 77.", 77),
    ("caption", "Final Score: 77/100", 77),
    ("caption", "Final score - 58", 58),
    ("caption", "Final Score: 3.5/5", 70),
    ("caption", "The caption is decent; I would rate it around 70.\n\nFinal Score: 70", 70),
    ("caption", "Final Score: 120", None),
    ("caption", "Final Score: N/A", None),
    ("caption", "The caption is detailed but partly invented.", None),
    ("caption", "Final Score: 60 or 65", None),
    ("caption", "Final Score: 9", 9),
    ("caption", "Accuracy score: 80\nDetail score: 60", None),
    ("caption", "Final Score: 70\nFinal Score: 75", 75),
    ("llava-bench", "10 7\nAssistant 2 misses the mat.", 7),
    ("llava-bench", "10 6.5\nClose, but it invents a second cat.", 6.5),
    ("llava-bench", "Assistant 1: 10, Assistant 2: 4. The second is wrong.", 4),
    ("llava-bench", "**10 8**\n\nBoth describe the scene; Assistant 2 omits the clock.", 8),
    ("llava-bench", "10, 9\nNearly identical answers.", 9),
    ("llava-bench", "10 3\n\nAssistant 2 gives a score of 9 to itself, which is wrong.", 3),
    ("llava-bench", "Scores: 10 5\nThe second answer is half right.", 5),
    ("llava-bench", "8/10 6/10\nBoth miss something.", 6),
    ("llava-bench", "Assistant 1 receives 10.\nAssistant 2 receives 7 for a good but shorter answer.", 7),
    ("llava-bench", "Assistant 1 score: 10\nAssistant 2 score: 6", 6),
    ("llava-bench", "Assistant 2: 4/5", round(1 + 4 / 5 * 9, 2)),
    ("llava-bench", "10 7/10\nGood.", 7),
    ("llava-bench", "10 1\nEntirely wrong.", 1),
    ("llava-bench", "10 10\nAs good as the reference.", 10),
    ("llava-bench", "10 14\nout of range", None),
    ("llava-bench", "10 0\nNothing right.", None),
    ("llava-bench", "The second assistant is worse.", None),
    ("llava-bench", "10\nonly one number", None),
    ("llava-bench", "10 7 5\nthree numbers", None),
    ("llava-bench", "", None),
]

PAIRWISE: list[tuple[str, str, Expected]] = [
    # The issue's own cases.
    ("pairwise", "Although Response 1 is more accurate about the colours, Response 2 is better overall.", "B"),
    ("pairwise", "I cannot say Response 1 is better; in fact Response 2 is better.", "B"),
    # LLaVA-Critic's trained shapes: verdict first, then reasons.
    ("pairwise", "Response 2 is better than Response 1 because it names the dog.", "B"),
    ("pairwise", "The first response is better. It is accurate and cites the sign.", "A"),
    ("pairwise", "The better response: [second]\nIt is more detailed.", "B"),
    ("pairwise", "The better response: [1]", "A"),
    ("pairwise", "Answer 1 is better. It names both animals.", "A"),
    ("pairwise", "Response A is better, since B invents a cat.", "A"),
    ("pairwise", "Both responses are equally good: each names the animal.", "tie"),
    ("pairwise", "Both answers are equally helpful and accurate.", "tie"),
    ("pairwise", "I prefer the second answer.", "B"),
    ("pairwise", "The second response is slightly better because it mentions the time of day.", "B"),
    ("pairwise", "Response 1 outperforms Response 2 in every respect.", "A"),
    # GPT-4o / Gemini: headers, per-response bullets, a bold verdict at the end.
    (
        "pairwise",
        "### Response 1\n- Correctly counts 3 apples.\n- Misses the knife.\n\n### Response 2\n- Counts 4 apples "
        "(wrong).\n\n**Verdict: Response 1**",
        "A",
    ),
    (
        "pairwise",
        "**Response A** is more detailed, but **Response B** is more accurate.\n\n**Final verdict:** Response B is "
        "better.",
        "B",
    ),
    ("pairwise", "Winner: Answer 2", "B"),
    ("pairwise", "**Better response:** The first response", "A"),
    ("pairwise", "Final verdict: tie", "tie"),
    ("pairwise", "**Preferred response: Response 2**\n\nReason: it reads the chart correctly.", "B"),
    (
        "pairwise",
        "Response 1 is more detailed. Response 2 is more accurate about the count.\n\nOverall, Response 2 is better.",
        "B",
    ),
    ("pairwise", "Assistant 1 is better at describing colours, but overall Assistant 2 is the better one.", "B"),
    ("pairwise", "In conclusion, the first answer is superior.", "A"),
    ("pairwise", "Therefore, I would choose Response 1.", "A"),
    ("pairwise", "Response 2 is the winner.", "B"),
    ("pairwise", "Response 1 is worse than Response 2.", "B"),
    ("pairwise", "The latter response is preferable.", "B"),
    ("pairwise", "Response 2 is clearly better. Let me know if you need anything else!", "B"),
    # Ties phrased many ways.
    ("pairwise", "Neither response is better; they are on par.", "tie"),
    ("pairwise", "It's a tie.", "tie"),
    ("pairwise", "Both responses are of similar quality.", "tie"),
    ("pairwise", "There is no clear winner.", "tie"),
    ("pairwise", "The two answers are equivalent.", "tie"),
    ("pairwise", "[[C]]", "tie"),
    ("pairwise", "Both responses are equally bad: neither mentions the dog.", "tie"),
    # Negations, hypotheticals, retractions, concessions.
    ("pairwise", "Response 1 is better than... no, Response 2 is better.", "B"),
    ("pairwise", "If Response 1 were longer, it would be better. As written, Response 2 is better.", "B"),
    ("pairwise", "We must decide whether Response 1 is better. It is: Response 1 is better.", "A"),
    ("pairwise", "There is no doubt that Response 2 is better.", "B"),
    ("pairwise", "I don't think Response 2 is better. Response 1 is better.", "A"),
    ("pairwise", "While Response 2 is better written, Response 1 is better.", "A"),
    ("pairwise", "Response 1 is not better than Response 2; Response 2 is better.", "B"),
    ("pairwise", "The two answers are not equally good: the second response is better.", "B"),
    # Aspect comparisons only count when nothing more explicit is said.
    ("pairwise", "Response 1 is more accurate.", "A"),
    ("pairwise", "Response 2 is better. Response 1 is more concise, though.", "B"),
    ("pairwise", "Response 2 is less accurate than Response 1.", "A"),
    # Unreadable.
    ("pairwise", "Both have merits and flaws.", None),
    ("pairwise", "It is hard to say which is better.", None),
    ("pairwise", "Response 1 is better. Response 2 is better.", None),
    ("pairwise", "I cannot say Response 1 is better.", None),
    ("pairwise", "The better response: [1] The better response: [2]", None),
    ("pairwise", "", None),
    ("pairwise", "Which response is better depends on what the user wants.", None),
    ("wildvision", "A is vague; B is right.\n\nMy final verdict is: [[B>A]]", "B"),
    ("wildvision", "Both fine. [[A=B]]", "tie"),
    ("wildvision", "Assistant A nails it [[A>>B]]", ("A", True)),
    ("wildvision", "My final verdict is Assistant B is significantly better: [[B>>A]]", ("B", True)),
    ("wildvision", "My final verdict is tie: [[A=B]]", "tie"),
    ("wildvision", "My final verdict is Assistant A is slightly better: [[A>B]].", ("A", False)),
    ("wildvision", "**My final verdict: [[B>A]]**", "B"),
    (
        "wildvision",
        "Assistant A's answer correctly reads the chart. Assistant B's answer misreads the axis.\n\n"
        "Assistant A is better.\n\nMy final verdict is: [[A>>B]]",
        ("A", True),
    ),
    ("wildvision", "My final verdict is: [[A>B]]\n\nI hope this helps!", ("A", False)),
    ("wildvision", "[[B >> A]]", ("B", True)),
    ("wildvision", "Initially [[A>B]] seemed right, but on reflection: [[B>A]]", "B"),
    ("wildvision", "I first leaned [[A>B]].\nAfter checking the image again:\n[[B>A]]", "B"),
    (
        "wildvision",
        'The labels are "[[A>>B]]", "[[A>B]]", "[[A=B]]", "[[B>A]]", "[[B>>A]]".\n\nMy final verdict is: [[A=B]]',
        "tie",
    ),
    ("wildvision", "Assistant B is significantly better.", ("B", True)),
    ("wildvision", "Assistant A is slightly better.", ("A", False)),
    ("wildvision", "Both assistants are equally good.", "tie"),
    ("wildvision", "My final verdict is that Assistant B is much better.", ("B", True)),
    ("wildvision", "I would not say [[A>B]]; my final verdict is [[B>A]].", "B"),
    ("wildvision", "[[A>B]] [[B>A]]", None),
    ("wildvision", "[[C>A]]", None),
    ("wildvision", "Both answers have issues.", None),
    ("wildvision", "If A had cited the sign, [[A>B]] would fit.", None),
    ("wildvision", "", None),
    ("wildvision", "It's difficult to decide between the two assistants.", None),
    ("pairwise", "My final verdict is: [[B>>A]]", "B"),
    ("pairwise", "Response 2 is much better.", "B"),
    ("pairwise", "[[A]]", "A"),
    ("pairwise", "Answer: [[B]]", "B"),
    ("pairwise", "The better response is the second one.", "B"),
    ("pairwise", "Output 1 is better.", "A"),
    ("pairwise", "Assistant B's answer is better.", "B"),
    (
        "wildvision",
        'The labels are:\n"[[A>>B]]": Assistant A is significantly better\n"[[A>B]]": Assistant A is slightly '
        'better\n"[[A=B]]": Tie, relatively the same\n"[[B>A]]": Assistant B is slightly better\n"[[B>>A]]": '
        "Assistant B is significantly better\n\nAssistant A reads the chart right.",
        None,
    ),
    (
        "wildvision",
        'The labels are:\n"[[A>>B]]": Assistant A is significantly better\n"[[A>B]]": Assistant A is slightly '
        'better\n"[[A=B]]": Tie, relatively the same\n"[[B>A]]": Assistant B is slightly better\n"[[B>>A]]": '
        "Assistant B is significantly better\n\nAssistant A reads the chart right.\n\nMy final verdict is: [[A>B]]",
        ("A", False),
    ),
    ("pointwise", "| Criterion | Score |\n|---|---|\n| Accuracy | 8/10 |\n| Overall | 7/10 |", 70),
    ("pointwise", "Based on the above, the final score is 62 out of 100.", 62),
    ("pairwise", "Response B > Response A", "B"),
    ("pairwise", "Response 2 is way better.", "B"),
    (
        "pairwise",
        "Response 1 and Response 2 are both correct. However, Response 2 provides more detail, making it the better "
        "response.",
        "B",
    ),
    ("pairwise", "The first response names the dog, so it is better.", "A"),
    ("pairwise", "Response 1 is wrong about the colour and Response 2 is right, so it is better.", "B"),
    ("pointwise", "Response quality: good. Final answer: 78", 78),
    ("pointwise", "The answer is right.\n\n\\boxed{75}", 75),
    ("pointwise", "Score: 100/100 is not deserved; Score: 65/100.", 65),
    ("pointwise", "It deserves at least 80.", None),
    ("pointwise", "The response is accurate.\n\n**Score: 8**\n\n(on a scale of 1-10)", round((8 - 1) * 100 / 9, 2)),
    ("llava-bench", "Scores:\n10 6\nThe second misses the clock.", 6),
    ("pairwise", "Response A: 8/10\nResponse B: 6/10", "A"),
    ("pairwise", "**Response 1 Score: 6/10**\n**Response 2 Score: 9/10**\n\nThe second reads the sign.", "B"),
    ("pairwise", "Response 1: 3 cats.\nResponse 2: 4 dogs.", None),
    ("pairwise", "The first response is not as good as the second.", "B"),
    ("pairwise", "Response 1 isn't better than Response 2.", None),
    ("pointwise", '```json\n{\n  "accuracy": 9,\n  "overall_score": 75,\n  "reason": "misses the lamp"\n}\n```', 75),
    ("pointwise", '{"score": 8, "scale": "1-10", "explanation": "Good."}', round((8 - 1) * 100 / 9, 2)),
    ("pairwise", '{"better_response": "Response 2", "reason": "It reads the sign."}', "B"),
    ("pairwise", '{"winner": "A", "confidence": 0.8}', "A"),
    ("pairwise", "Response 1 is more accurate.\nHowever, Response 2 is better for the following reasons: ...", "B"),
    ("pairwise", "Response 1 is better at counting.\nResponse 2 is more fluent.", None),
    ("pointwise", "It correctly identifies 3 out of 4 objects.", None),
    ("pointwise", "The response gets 2/3 of the details right. Score: 70", 70),
    ("pointwise", "It names 9/10 items correctly, good job.", None),
    ("pointwise", "Good answer, 9/10.", 90),
]

# A team's profiles, read by the built-in families' careful readers on their own range / without ties.
DEFINED = {
    "defined-1-5": ProfileSpec(
        name="defined-1-5", kind="pointwise", template="Rate 1-5.\n{question}\n{response}", score_min=1,
        score_max=5, score_step=1, reader="pointwise",
    ),
    "defined-1-10": ProfileSpec(
        name="defined-1-10", kind="pointwise", template="Rate 1-10.\n{question}\n{response}", score_min=1,
        score_max=10, score_step=1, reader="pointwise",
    ),
    "defined-pairwise-no-tie": ProfileSpec(
        name="defined-pairwise-no-tie", kind="pairwise", template="{question}\nA: {response_a}\nB: {response_b}",
        reader="pairwise", allow_tie=False,
    ),
}  # fmt: skip


@cache
def profile_for(name: str) -> Profile:
    """A built-in profile by name, or a team's profile of DEFINED."""
    spec = DEFINED.get(name)
    return get_profile(name) if spec is None else profile_from_spec(spec)


JUDGES: list[tuple[str, str, Expected]] = [
    (profile, text, expected)
    for text, *readings in SCORE_TEXTS
    for profile, expected in zip(("pointwise", "defined-1-5", "defined-1-10"), readings, strict=True)
] + [
    (profile, text, expected)
    for text, *readings in PREFERENCE_TEXTS
    for profile, expected in zip(("pairwise", "defined-pairwise-no-tie", "wildvision"), readings, strict=True)
]

ALL = POINTWISE + PAIRWISE + JUDGES
