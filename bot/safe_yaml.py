"""Reading the campaign file's YAML with bounds, so a hostile or broken file cannot exhaust memory.

PyYAML shares the node of an anchor between all its aliases, so a "billion laughs" file parses
into a small graph; the blow-up comes later, when that graph is walked as a tree (expanding
``${NAME}``, validating). :class:`BoundedSafeLoader` therefore refuses, while composing, more than
:data:`MAX_ALIASES` aliases, and :func:`load_bounded` refuses a document whose tree, with every
alias expanded, would have more than :data:`MAX_EXPANDED_NODES` nodes. The file itself may be at
most :data:`MAX_CONFIG_BYTES`. None of this touches PyYAML's global ``SafeLoader``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent

MAX_CONFIG_BYTES = 1024 * 1024
"""A campaign file is a few kilobytes; a megabyte leaves room for long consent texts."""
MAX_ALIASES = 1000
"""Anchors for shared options are fine; thousands of aliases are not a campaign."""
MAX_EXPANDED_NODES = 200_000
"""Nodes of the document once every alias is expanded (the example config has about 700)."""


class YamlTooLarge(yaml.YAMLError):
    """The document is larger than the bounds allow; ``problem`` says which bound."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = None


class BoundedSafeLoader(yaml.SafeLoader):
    """A ``SafeLoader`` that counts aliases while composing and stops past ``max_aliases``."""

    max_aliases = MAX_ALIASES

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(AliasEvent):
            self._aliases += 1
            if self._aliases > self.max_aliases:
                raise YamlTooLarge(f"it uses more than {self.max_aliases} aliases (*name)")
        return super().compose_node(parent, index)


def expanded_size(root: yaml.Node, limit: int = MAX_EXPANDED_NODES) -> int:
    """How many nodes ``root`` has as a tree; stops counting (returns > limit) past ``limit``.

    Sizes are memoised per node, so a shared (aliased) node is measured once and the walk stays
    linear in the size of the graph even when the tree it stands for is astronomically large.
    """
    sizes: dict[int, int] = {}

    def size(node: yaml.Node, depth: int) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        if depth > 200:
            raise YamlTooLarge("it nests deeper than 200 levels")
        total = 1
        if isinstance(node, yaml.SequenceNode):
            for item in node.value:
                total += size(item, depth + 1)
                if total > limit:
                    break
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                total += size(key, depth + 1) + size(value, depth + 1)
                if total > limit:
                    break
        sizes[id(node)] = total
        return total

    return size(root, 0)


def load_bounded(text: str) -> tuple[yaml.Node | None, Any]:
    """Compose and construct one YAML document within the bounds.

    Returns:
        The composed root node (for line numbers) and the constructed data.

    Raises:
        yaml.YAMLError: the text is not YAML, or :class:`YamlTooLarge` past a bound.
    """
    if len(text.encode("utf-8")) > MAX_CONFIG_BYTES:
        raise YamlTooLarge(f"it is larger than {MAX_CONFIG_BYTES // 1024} KiB")
    loader = BoundedSafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, None
        if expanded_size(root) > MAX_EXPANDED_NODES:
            raise YamlTooLarge(
                f"with its aliases expanded it has more than {MAX_EXPANDED_NODES:,} values"
            )
        return root, loader.construct_document(root)
    finally:
        loader.dispose()


def read_config_text(path: Path) -> str:
    """The file's text, refusing before reading when it is larger than a config can be.

    Raises:
        YamlTooLarge: the file is over :data:`MAX_CONFIG_BYTES`.
        OSError, UnicodeDecodeError: as ``Path.read_text``.
    """
    if path.is_file() and path.stat().st_size > MAX_CONFIG_BYTES:
        raise YamlTooLarge(f"it is larger than {MAX_CONFIG_BYTES // 1024} KiB")
    return path.read_text(encoding="utf-8-sig")
