"""Builds parent/child structures that refer to each other: garbage only the GC frees."""


class Node:
    def __init__(self, parent: "Node | None") -> None:
        self.parent = parent
        self.children: list[Node] = []
        self.payload = "n" * 64


def handle(job: dict[str, int]) -> None:
    root = Node(None)
    for _ in range(20):
        root.children.append(Node(root))
