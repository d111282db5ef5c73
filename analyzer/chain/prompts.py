"""Load the versioned prompt templates in prompts/ (the checkout's, or the copy an installed wheel carries) as
LangChain prompt templates. Version 2 (the default) gives the LLM the tagger's steps as the skeleton to explain."""
from __future__ import annotations

from functools import lru_cache

import yaml

from analyzer.paths import PROMPTS_DIR

PROMPT_DIR = PROMPTS_DIR
PROMPT_VERSION = 2


@lru_cache(maxsize=8)
def load_prompt_spec(name: str = "explain", language: str = "zh", version: int = PROMPT_VERSION) -> dict:
    path = PROMPT_DIR / f"{name}.{language}.v{version}.yaml"
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    spec["path"] = str(path)
    return spec


def explain_prompt(language: str = "zh", version: int = PROMPT_VERSION):
    from langchain_core.prompts import ChatPromptTemplate
    spec = load_prompt_spec("explain", language, version)
    return ChatPromptTemplate.from_messages([("system", spec["system"]), ("human", spec["human"])])


def repair_message(errors: list[str], language: str = "zh", version: int = PROMPT_VERSION) -> str:
    spec = load_prompt_spec("explain", language, version)
    return spec["repair"].format(errors="\n".join(f"- {e}" for e in errors))
