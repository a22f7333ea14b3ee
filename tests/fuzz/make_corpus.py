#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/ (standard
library only). Seeds are small on purpose: libFuzzer's maximum input length follows the largest
seed. Run it again after changing a fixture; crash inputs added by hand (crash-*) are kept.

Sources: the fixtures' safetensors headers (whole, and shrunk to files whose tensors hold one
element, so that the parser also reaches its success path), the index of the sharded fixture,
the fixtures' config.json files, a predictor.json for the e4-step2-fp32 fixture, and short data
files and texts written here (no GLUE data is copied).
"""
import json
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parent
FIXTURES = ROOT.parent / "fixtures"
CORPUS = ROOT / "corpus"

DTYPE_SIZE = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "U8": 1, "BOOL": 1, "F64": 8}


def write(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))


def header_of(path):
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    return raw[: 8 + length], json.loads(raw[8 : 8 + length])


def safetensors_file(tensors, metadata=None):
    """tensors: [(name, dtype, shape)] -> a complete file with zero-filled data."""
    header, offset = {}, 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape in tensors:
        size = DTYPE_SIZE[dtype]
        for dim in shape:
            size *= dim
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + bytes(offset)


def safetensors_seeds():
    target = "fuzz_safetensors_header"
    write(target, "python_written", (FIXTURES / "safetensors/python_written.safetensors").read_bytes())
    for model, file in [("e4-step2-fp32", "model.safetensors"), ("e8-step2-bf16", "model.safetensors"),
                        ("e4-step2-sharded", "model-00001-of-00005.safetensors"),
                        ("e4-step2-sharded", "model-00005-of-00005.safetensors")]:
        raw_header, header = header_of(FIXTURES / "hf" / model / file)
        stem = f"{model}-{file.split('.')[0]}"
        write(target, f"{stem}-header-only", raw_header)  # refused: the data is missing
        # The same names and dtypes, each tensor shrunk to a single element: a valid file.
        entries = [(name, entry["dtype"], [1] * len(entry["shape"]))
                   for name, entry in header.items() if name != "__metadata__"]
        write(target, f"{stem}-shrunk", safetensors_file(entries[:24], header.get("__metadata__")))
    write(target, "empty-header", safetensors_file([]))
    write(target, "mixed-dtypes", safetensors_file(
        [("a", "F64", [2]), ("b", "F32", [2, 2]), ("c", "BF16", [3]), ("d", "U8", [0]), ("e", "BOOL", [])],
        {"format": "pt"}))
    write(target, "gap", struct.pack("<Q", 64) +
          b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'.ljust(64) + bytes(8))


def index_seeds():
    target = "fuzz_safetensors_index"
    write(target, "e4-step2-sharded", (FIXTURES / "hf/e4-step2-sharded/model.safetensors.index.json").read_bytes())
    write(target, "small", json.dumps({"metadata": {"total_size": 8},
                                       "weight_map": {"a": "model-00001-of-00002.safetensors",
                                                      "b": "model-00002-of-00002.safetensors"}}))


def config_seeds():
    for folder in sorted((FIXTURES / "hf").iterdir()):
        if (folder / "config.json").is_file():
            write("fuzz_config", folder.name, (folder / "config.json").read_bytes())
    write("fuzz_config", "minimal", '{"model_type":"switch_transformers","num_labels":3}')


def predictor_seeds():
    target = "fuzz_predictor_metadata"
    fits = {"format": "sida-predictor", "version": 1,
            "architecture": {"hidden": 16, "lstm_layers": 1, "bidirectional": False},
            "d_model": 32, "vocab_size": 1152, "num_experts": 4, "moe_blocks": [1, 3],
            "model_fingerprint": "a" * 64,  # the fingerprint the target checks against
            "recipe": {"epochs": 2, "learning_rate": 5e-05, "data": "train.tsv"},
            "metrics": {"best_epoch": 1, "dev_top1_hit_rate": 0.5, "dev_top3_hit_rate": 0.9}}
    write(target, "fits", json.dumps(fits, indent=2))
    write(target, "other-model", json.dumps(dict(fits, d_model=64, model_fingerprint="b" * 64)))
    write(target, "other-version", json.dumps(dict(fits, version=2)))


def dataset_seeds():
    # Four option bytes first (see fuzz_dataset.cpp), then the file. 0x61: labels required,
    # 3 preview rows; 0x60: labels optional.
    none = b"\x00\x00\x00"
    seeds = {
        "sst2-like": b"\x61" + none + b"sentence\tlabel\na quiet , lovely film \t1\nthe plot goes nowhere \t0\n",
        "rte-like": b"\x61" + none + b"index\tsentence1\tsentence2\tlabel\n0\tA cat sat.\tAn animal sat.\t"
                    b"entailment\n1\tIt rained.\tThe ground is dry.\tnot_entailment\n",
        "mrpc-like": b"\x61" + none + b"\xef\xbb\xbfQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\r\n"
                     b"1\t11\t12\tThe firm grew.\tThe company grew.\r\n",
        "cola-like": b"\x61" + none + b"src1\t1\t\tThe book was read.\nsrc1\t0\t*\tBook the read was.\n",
        "csv-quoted": b"\x61" + none + b'text,label\n"Hello, ""world""",pos\n"two\nlines",neg\n",bad\n',
        "plain-txt": b"\x60" + none + b"first text\nsecond\tpair\n\n   \n\xe3\x80\x80\n",
        "columns-with-options": b"\x61\xc2\x00\xc4" + b"a\tb\tc\nx\ty\t1\n",  # text 0, label 2
        "bad-utf8": b"\x61" + none + b"sentence\tlabel\nok\t1\nbad \xff\xfe\t0\n",
    }
    for name, data in seeds.items():
        write("fuzz_dataset", name, data)


def tokenizer_seeds():
    # Three choice bytes first (see fuzz_tokenizer.cpp): pair flag, then the maximum length + 1.
    def seed(pair, max_length, text):
        value = max_length + 1
        return bytes([pair, value >> 8, value & 0xFF]) + text.encode("utf-8", "surrogatepass")

    texts = {
        "plain": (0, 64, "Hello world, this is a test."),
        "specials": (0, 32, "a <extra_id_0> b <extra_id_99></s><pad><unk> <extra_id_100> <extra_id_07>"),
        "unicode": (0, 512, "Grüße, ça va? 日本語のテキスト \u3000 \u00a0 émoji 🙂"),
        "pair": (1, 16, "The first sentence of the pair.\tAnd the second, which is a little longer."),
        "truncate": (0, 4, "many words that do not fit into four ids at all"),
        "blank": (0, 8, " \t\u2003 "),
    }
    for name, (pair, max_length, text) in texts.items():
        write("fuzz_tokenizer", name, seed(pair, max_length, text))
    write("fuzz_tokenizer", "invalid-utf8", bytes([0, 0, 64]) + b"caf\xc3 \xed\xa0\x80 \xf4\x90\x80\x80")


if __name__ == "__main__":
    safetensors_seeds()
    index_seeds()
    config_seeds()
    predictor_seeds()
    dataset_seeds()
    tokenizer_seeds()
