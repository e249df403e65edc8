"""Tag vocabularies for face images: categorical attributes such as hair colour, and tag text parsing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

# The colour names of the anime face tags; the procedural faces reuse them so one classifier design fits both.
ANIME_HAIR_COLOURS = ("aqua", "black", "blonde", "blue", "brown", "gray", "green", "orange", "pink", "purple",
                      "red", "white")
ANIME_EYE_COLOURS = ("aqua", "black", "blue", "brown", "green", "orange", "pink", "purple", "red", "yellow")
HAIR_LENGTHS = ("short", "long")


class TagError(ValueError):
    """Tag text that does not fit a vocabulary; the message lists the known tags."""


@dataclass(frozen=True)
class TagAttribute:
    """One categorical condition, written in tag text as "<class> <noun>" (e.g. "red hair")."""

    name: str  # key in label dicts and model configs, e.g. "hair"
    noun: str  # the word that closes the tag in text, e.g. "hair" or "eyes"
    classes: tuple[str, ...]

    def tag(self, index: int) -> str:
        return f"{self.classes[index]} {self.noun}"


@dataclass(frozen=True)
class TagVocabulary:
    """An ordered set of attributes; labels are integer tensors of shape (batch, attributes) in this order."""

    attributes: tuple[TagAttribute, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(attribute.name for attribute in self.attributes)

    @property
    def class_counts(self) -> tuple[int, ...]:
        return tuple(len(attribute.classes) for attribute in self.attributes)

    def attribute(self, name: str) -> TagAttribute:
        for attribute in self.attributes:
            if attribute.name == name:
                return attribute
        raise KeyError(f"No attribute {name!r}; this vocabulary has {', '.join(self.names)}.")

    def describe(self) -> str:
        """Return every known tag, grouped by attribute, for error messages and help text."""
        groups = [f"{attribute.name}: " + ", ".join(attribute.tag(i) for i in range(len(attribute.classes)))
                  for attribute in self.attributes]
        return "; ".join(groups)

    def to_text(self, labels: Sequence[int]) -> str:
        """Turn one label row into tag text such as "red hair, green eyes, long hair"."""
        return ", ".join(attribute.tag(int(index)) for attribute, index in zip(self.attributes, labels))

    def parse(self, text: str, *, require_all: bool = False) -> dict[str, int]:
        """Parse tag text into {attribute name: class index}.

        Tags may be separated by commas or only by spaces ("aqua hair aqua eyes"). Each tag ends
        with an attribute noun ("hair", "eyes"); "eye" is accepted for "eyes". Attributes left
        out are missing from the result, so a caller can sample them.

        Raises:
            TagError: for an unknown tag, a word left over without a noun, an attribute given twice,
                or (with ``require_all``) a missing attribute. The message lists the known tags.
        """
        words = [word for word in re.split(r"[\s,;]+", text.strip().lower()) if word]
        nouns = {attribute.noun for attribute in self.attributes} | {"eye"}
        result: dict[str, int] = {}
        pending: list[str] = []
        for word in words:
            if word not in nouns:
                pending.append(word)
                continue
            noun = "eyes" if word == "eye" else word
            phrase = " ".join(pending)
            pending = []
            name, index = self._lookup(phrase, noun, text)
            if name in result:
                raise TagError(f"Tag text {text!r} sets {name} twice; give one {name} tag. "
                               f"Known tags: {self.describe()}.")
            result[name] = index
        if pending:
            raise TagError(f"Tag text {text!r} ends with {' '.join(pending)!r}, which is not a tag; every tag "
                           f"ends with a noun such as 'hair' or 'eyes'. Known tags: {self.describe()}.")
        if require_all:
            missing = [name for name in self.names if name not in result]
            if missing:
                raise TagError(f"Tag text {text!r} gives no {', '.join(missing)} tag. Known tags: {self.describe()}.")
        return result

    def _lookup(self, phrase: str, noun: str, text: str) -> tuple[str, int]:
        for attribute in self.attributes:
            if attribute.noun == noun and phrase in attribute.classes:
                return attribute.name, attribute.classes.index(phrase)
        shown = f"{phrase} {noun}".strip()
        raise TagError(f"Unknown tag {shown!r} in {text!r}. Known tags: {self.describe()}.")

    def to_json(self) -> list[dict[str, Any]]:
        return [{"name": a.name, "noun": a.noun, "classes": list(a.classes)} for a in self.attributes]

    @classmethod
    def from_json(cls, data: Sequence[Mapping[str, Any]]) -> TagVocabulary:
        return cls(tuple(TagAttribute(str(item["name"]), str(item["noun"]), tuple(item["classes"])) for item in data))


ANIME_VOCABULARY = TagVocabulary((
    TagAttribute("hair", "hair", ANIME_HAIR_COLOURS),
    TagAttribute("eyes", "eyes", ANIME_EYE_COLOURS),
))

PROCEDURAL_VOCABULARY = TagVocabulary((
    TagAttribute("hair", "hair", ANIME_HAIR_COLOURS),
    TagAttribute("eyes", "eyes", ANIME_EYE_COLOURS),
    TagAttribute("length", "hair", HAIR_LENGTHS),
))
