"""LLaVA JSON and llava-critic-113k parquet: rows of `conversations` read back into items.

A conversation's last human turn and the gpt turn after it are the item; earlier turns become its context. When
that human turn is a critic prompt (critic_prompts.py), its parts become the item and the gpt turn the verdict of
an external judge. In the 113k format every row is a critic row, and in LLaVA JSON a human turn that holds a
critic prompt's phrases is one: such a row whose prompt cannot be split is refused with the reason, or, when the
import asks for it, kept whole (the prompt as the question, the judge's text as its verdict) — never taken for a
plain question and answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ijson
import pyarrow.parquet as pq

from annotations.importers.critic_prompts import (
    looks_like_critic_prompt,
    parse_critic_prompt,
    profile_for,
    profile_for_family,
)
from annotations.importers.fields import MAX_IMAGES
from annotations.importers.rows import JudgeEntry, Row
from critic_worker.profiles import WHOLE_PROMPT_RESPONSE

IMAGE_TOKEN = "<image>"
ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "context"}
NOT_RECOGNISED = "critic prompt not recognised"


def _turns(row: Row, turns: Any) -> list[tuple[str, str]] | None:
    if not isinstance(turns, list) or not turns:
        row.problem("conversations", "needs a human turn and a gpt turn")
        return None
    out = []
    for i, turn in enumerate(turns, start=1):
        role = ROLES.get(str(turn.get("from", "")).lower()) if isinstance(turn, dict) else None
        if role is None or not isinstance(turn.get("value"), str):
            row.problem("conversations", f"turn {i} needs `from` (human or gpt) and a text `value`")
            return None
        out.append((role, turn["value"]))
    return out


def _whole_prompt_profiles(prompt: str, family: str) -> tuple[str, ...]:
    """The profiles that may read a whole prompt's verdict, in the order tried: the pairwise ones, then the
    pointwise one the prompt or the id's family points to (LLaVA-Bench's needs a reference a whole prompt lacks)."""
    pointwise = profile_for_family(family, pairwise=False) if family else "pointwise"
    if "final score" in prompt.lower():
        pointwise = "caption"
    return ("wildvision", "pairwise", "pointwise" if pointwise == "llava-bench" else pointwise)


def conversation_row(row: Row, row_id: str, turns: Any, *, every_row_is_critic: bool, whole_prompt: bool) -> Row:
    """Fill the row from its conversation (see the module's docstring)."""
    row.external_id = row_id
    read = _turns(row, turns)
    if read is None:
        return row
    tokens = sum(text.count(IMAGE_TOKEN) for _, text in read)
    listed = row.image_count
    if tokens and listed and tokens != listed:
        row.problem(
            "conversations",
            f"holds {tokens} {IMAGE_TOKEN} tokens but the row has {listed} image{'s' if listed > 1 else ''}: "
            "each image needs its token, in order",
        )
    last = max((i for i, (role, _) in enumerate(read) if role == "user"), default=None)
    if last is None or last + 1 >= len(read) or read[last + 1][0] != "assistant":
        row.problem("conversations", "needs a human turn followed by a gpt turn (the answer to judge or the verdict)")
        return row
    human = read[last][1].replace(IMAGE_TOKEN, "").strip()
    gpt = read[last + 1][1].strip()
    if last + 2 < len(read):
        row.problem("conversations", "has turns after the last gpt answer")
    earlier = [{"role": role, "text": text.replace(IMAGE_TOKEN, "").strip()} for role, text in read[:last]]
    # A system turn holding a judge's instructions is the judge's, as instructions in the human turn are: it makes
    # the row a critic row, and it is no earlier turn of the conversation.
    instructions = [t["text"] for t in earlier if t["role"] == "context" and looks_like_critic_prompt(t["text"])]
    row.context = [t for t in earlier if not (t["role"] == "context" and t["text"] in instructions)]
    family = row_id.split("__")[-1] if "__" in row_id else ""
    critic = parse_critic_prompt(human)
    if critic is not None:
        if critic.note:
            row.context.insert(0, {"role": "context", "text": critic.note})
        row.profile = profile_for(critic, family=family)
        row.question, row.response_a = critic.question, critic.response_a
        row.response_b, row.reference = critic.response_b, critic.reference
        row.judges.append(JudgeEntry(name="", output=gpt, where="conversations"))
    elif every_row_is_critic or instructions or looks_like_critic_prompt(human):
        if not whole_prompt:
            row.refuse(
                NOT_RECOGNISED,
                "conversations",
                "the human turn is a critic prompt in a shape the importer does not recognise (it begins "
                f"{human[:80]!r}{', the judge instructions in a system turn' if instructions else ''}); import with "
                "the whole-prompt option (the import page's 'Keep unrecognised critic prompts whole', --whole-prompt, "
                "the API's whole_prompt) to keep it whole with its verdict",
            )
            return row
        row.question = "\n\n".join([*instructions, human])
        row.response_a = WHOLE_PROMPT_RESPONSE
        row.whole_prompt_profiles = _whole_prompt_profiles(row.question, family)
        row.judges.append(JudgeEntry(name="", output=gpt, where="conversations"))
    else:
        row.question, row.response_a, row.plain_conversation = human, gpt, True
    return row


def _images(row: Row, image: Any) -> None:
    """LLaVA's `image`: one path, or a list of paths for a conversation with several images (in the order of
    their <image> tokens)."""
    refs = image if isinstance(image, list) else [image]
    if not refs or any(not isinstance(ref, str) or not ref.strip() for ref in refs):
        row.problem("image", "is required: a path, or a list of paths" if refs else "is an empty list")
        return
    if len(refs) > MAX_IMAGES:
        row.problem("image", f"lists {len(refs)} images; an item holds at most {MAX_IMAGES}")
        return
    row.image_ref, row.more_image_refs = refs[0], list(refs[1:])


def read_llava_json(path: Path, *, whole_prompt: bool = False) -> Iterator[Row]:
    with path.open("rb") as f:
        if f.read(3) != b"\xef\xbb\xbf":  # skip a UTF-8 byte-order mark
            f.seek(0)
        start = f.tell()
        first = b""
        while not first and (chunk := f.read(4096)):
            first = chunk.lstrip()[:1]
        if not first:
            return  # nothing but white space: no rows
        if first != b"[":
            row = Row(number=0)
            row.problem("file", "is not a JSON list of rows (LLaVA JSON is a list: [{...}, ...])")
            yield row
            return
        f.seek(start)
        try:
            for number, data in enumerate(ijson.items(f, "item", use_float=True), start=1):
                row = Row(number=number)
                if not isinstance(data, dict):
                    row.problem("row", "must be an object with id, image and conversations")
                    yield row
                    continue
                _images(row, data.get("image"))
                row.model_a = str(data.get("model") or "")
                yield conversation_row(
                    row,
                    str(data.get("id") or ""),
                    data.get("conversations"),
                    every_row_is_critic=False,
                    whole_prompt=whole_prompt,
                )
        except ijson.JSONError as exc:
            row = Row(number=0)
            said = " ".join(str(exc).split("\n")[0].split())  # the parser's first line; it draws an arrow below
            row.problem("file", f"is not a JSON list of rows ({said})")
            yield row


PARQUET_COLUMNS = {"id", "conversations", "image"}


def read_parquet(path: Path, *, whole_prompt: bool = False) -> Iterator[Row]:
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:
        row = Row(number=0)
        row.problem("file", f"is not a readable parquet file ({exc})")
        yield row
        return
    missing = PARQUET_COLUMNS - set(parquet.schema_arrow.names)
    if missing:
        row = Row(number=0)
        row.problem("file", f"lacks the llava-critic-113k columns {sorted(missing)}")
        yield row
        return
    number = 0
    for batch in parquet.iter_batches(batch_size=512, columns=sorted(PARQUET_COLUMNS)):
        for data in batch.to_pylist():
            number += 1
            row = Row(number=number)
            image = data.get("image")
            if isinstance(image, dict) and image.get("bytes"):
                row.image_bytes = bytes(image["bytes"])
            elif isinstance(image, dict) and image.get("path"):
                row.image_ref = str(image["path"])
            else:
                row.problem("image", "has neither bytes nor a path")
            yield conversation_row(
                row,
                str(data.get("id") or ""),
                data.get("conversations"),
                every_row_is_critic=True,
                whole_prompt=whole_prompt,
            )
