"""The role prompts as message lists, rendered from prompts/*.txt by core's one template mechanism
(the templates are read from disk by lion_cli.prompts_loader.load_role_prompts)."""

from __future__ import annotations

from dataclasses import dataclass

from lion_cli.core.prompts import Template, render

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class RolePrompts:
    templates: dict[str, Template]

    @property
    def teacher_source(self) -> str:
        """The teacher template's identity for the answer-settings hash (a parsed template's repr
        changes exactly when its text does, comments aside)."""
        return repr(self.templates["teacher"].messages)  # not its name: a path differs per install

    def teacher(self, instruction: str, input_text: str) -> Messages:
        return render(self.templates["teacher"], instruction=instruction, input=input_text)

    def referee(self, instruction: str, input_text: str, answer_1: str, answer_2: str, *,
                structured: bool = False) -> Messages:
        """The referee's messages; `structured`: the variant for a reply under a JSON schema (which
        asks for its fields instead of closing score lines)."""
        shown = instruction if not input_text else f"{instruction}\n\n{input_text}"
        name = "referee_structured" if structured else "referee"
        return render(self.templates[name], instruction=shown, answer_1=answer_1, answer_2=answer_2)

    def generator(self, kind: str, seed: str, seed_input: str) -> Messages:
        shown = seed if not seed_input else f"{seed}\n{seed_input}"
        return render(self.templates[f"generator_{kind}"], seed=shown)
