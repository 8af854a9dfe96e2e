"""MkDocs hook: every plugin's MODEL_CARD.md becomes a page under methods/.

Model cards live inside the plugin packages (they ship in the wheels); this hook adds
them to the site at build time so they are never copied by hand, together with the
PNG / JPEG figures that sit next to them.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


def model_cards() -> dict[str, Path]:
    """{plugin folder name: MODEL_CARD.md path} for every plugin in the repository."""
    return {
        card.parent.parent.name: card
        for card in sorted((ROOT / "plugins").glob("*/*/MODEL_CARD.md"))
    }


def on_config(config):
    """Put every model card in the nav under Methods."""
    for i, entry in enumerate(config["nav"]):
        if isinstance(entry, dict) and "Methods" in entry:
            pages = [{"Overview": "methods/index.md"}]
            pages += [{plugin: f"methods/{plugin}.md"} for plugin in model_cards()]
            config["nav"][i] = {"Methods": pages}
    return config


def card_images() -> dict[str, Path]:
    """{file name: path} of every PNG / JPEG next to a model card (figures the card embeds).

    They are published at ``methods/<file name>``, next to the generated card page, so a
    card's relative ``![...](figure.png)`` works both on GitHub and on the site.
    """
    images: dict[str, Path] = {}
    for card in model_cards().values():
        for path in sorted(card.parent.iterdir()):
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                if path.name in images:
                    raise ValueError(
                        f"{path} and {images[path.name]} would both be published as "
                        f"methods/{path.name}; rename one of them"
                    )
                images[path.name] = path
    return images


def on_files(files, config):
    for plugin, card in model_cards().items():
        files.append(
            File.generated(config, f"methods/{plugin}.md", content=card.read_text(encoding="utf-8"))
        )
    for name, path in card_images().items():
        files.append(File.generated(config, f"methods/{name}", abs_src_path=str(path)))
    return files


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri == "methods/index.md":
        rows = [f"- [{plugin}]({plugin}.md)" for plugin in model_cards()]
        markdown = markdown.replace("<!-- model cards -->", "\n".join(rows))
    return markdown
