// SPDX-License-Identifier: MIT
// The safetensors reader against every check of the official reader (read_metadata / validate),
// the sharded index, Checkpoint on single and sharded folders, and the writer against a file the
// Python library wrote.
#include "test_printers.h"
#include "test_support.h"

#include "sida/errors.h"
#include "sida/safetensors.h"

#include <QtTest>

#include <cstring>
#include <set>

using namespace sida;

namespace {

const std::string kSource = "weights/bad.safetensors";

std::string littleEndian64(uint64_t value) {
    std::string bytes(8, '\0');
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((value >> (8 * i)) & 0xff);
    return bytes;
}

// A safetensors file: the header length (the header's own size unless `declaredLength` says
// otherwise), the header, then `data`.
std::string fileOf(const std::string& header, const std::string& data, int64_t declaredLength = -1) {
    const uint64_t length = declaredLength >= 0 ? static_cast<uint64_t>(declaredLength) : header.size();
    return littleEndian64(length) + header + data;
}

SafetensorsHeader parseBytes(const std::string& bytes) {
    const auto* data = reinterpret_cast<const std::byte*>(bytes.data());
    return parseSafetensorsHeader({data, bytes.size()}, bytes.size(), kSource);
}

std::string parseError(const std::string& bytes) {
    try {
        parseBytes(bytes);
    } catch (const Error& e) {
        return e.what();
    }
    return {};
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::span<const std::byte> asBytes(const std::string& text) {
    return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

std::string asString(std::span<const std::byte> bytes) {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

std::filesystem::path tempPath(const QTemporaryDir& dir, const std::string& name) {
    return std::filesystem::path(dir.path().toStdString()) / name;
}

std::string checkpointError(const std::filesystem::path& dir) {
    try {
        Checkpoint checkpoint(dir);
    } catch (const Error& e) {
        return e.what();
    }
    return {};
}

// The `"__metadata__":{...}` object of a header, as text (string-aware brace matching).
std::string metadataObject(const std::string& header, size_t* start = nullptr) {
    const std::string key = "\"__metadata__\":";
    const size_t open = header.find(key);
    if (open == std::string::npos) return {};
    const size_t begin = open + key.size();
    bool inString = false;
    int depth = 0;
    for (size_t i = begin; i < header.size(); ++i) {
        const char c = header[i];
        if (inString) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                inString = false;
        } else if (c == '"') {
            inString = true;
        } else if (c == '{') {
            ++depth;
        } else if (c == '}' && --depth == 0) {
            if (start) *start = begin;
            return header.substr(begin, i + 1 - begin);
        }
    }
    return {};
}

// The `"key":"value"` members of a flat JSON object of strings, as written.
std::multiset<std::string> members(const std::string& object) {
    std::multiset<std::string> result;
    std::string current;
    bool inString = false;
    for (size_t i = 1; i + 1 < object.size(); ++i) {
        const char c = object[i];
        if (inString && c == '\\') {
            current += c;
            current += object[++i];
            continue;
        }
        if (c == '"') inString = !inString;
        if (!inString && c == ',') {
            result.insert(current);
            current.clear();
        } else {
            current += c;
        }
    }
    if (!current.empty()) result.insert(current);
    return result;
}

} // namespace

class SafetensorsTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void parsesValidHeader();
    void dtypeTable();
    void rejects_data();
    void rejects();
    void accepts_data();
    void accepts();
    void readsFileOfSevenBytes();
    void readsMissingFile();
    void index_data();
    void index();
    void indexRejects_data();
    void indexRejects();
    void singleFileCheckpoint();
    void shardedCheckpoint();
    void checkpointPrefersSingleFileLikeTransformers();
    void checkpointMissingShard();
    void checkpointShardLacksTensor();
    void checkpointWithoutWeights();
    void writerMatchesPythonByteForByte();
    void writerRoundTrip();
    void writerRejectsBadInput();
};

void SafetensorsTest::parsesValidHeader() {
    const std::string header = R"({"__metadata__":{"format":"pt","source":"test"},)"
                               R"("w":{"dtype":"F32","shape":[2,3],"data_offsets":[4,28]},)"
                               R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})";
    const SafetensorsHeader h = parseBytes(fileOf(header, std::string(28, 'x')));
    QCOMPARE(h.dataOffset, 8 + header.size());
    QCOMPARE(h.metadata.size(), size_t(2));
    QCOMPARE(h.metadata.at("format"), std::string("pt"));
    QCOMPARE(h.metadata.at("source"), std::string("test"));
    QCOMPARE(h.tensors.size(), size_t(2));
    // In data-offset order, not header order.
    QCOMPARE(h.tensors[0].name, std::string("b"));
    QCOMPARE(h.tensors[1].name, std::string("w"));
    const TensorInfo* w = h.find("w");
    QVERIFY(w);
    QCOMPARE(w->dtype, DType::F32);
    QCOMPARE(w->shape, (std::vector<int64_t>{2, 3}));
    QCOMPARE(w->begin, uint64_t(4));
    QCOMPARE(w->end, uint64_t(28));
    QCOMPARE(w->numel(), uint64_t(6));
    QCOMPARE(w->byteSize(), uint64_t(24));
    QCOMPARE(h.find("b")->dtype, DType::BF16);
    QVERIFY(!h.find("missing"));
}

// The format's dtype names and sizes, and the three SiDA computes with.
void SafetensorsTest::dtypeTable() {
    const std::vector<std::pair<DType, std::pair<const char*, size_t>>> table{
        {DType::BOOL, {"BOOL", 1}},       {DType::U8, {"U8", 1}},           {DType::I8, {"I8", 1}},
        {DType::F8_E5M2, {"F8_E5M2", 1}}, {DType::F8_E4M3, {"F8_E4M3", 1}}, {DType::I16, {"I16", 2}},
        {DType::U16, {"U16", 2}},         {DType::F16, {"F16", 2}},         {DType::BF16, {"BF16", 2}},
        {DType::I32, {"I32", 4}},         {DType::U32, {"U32", 4}},         {DType::F32, {"F32", 4}},
        {DType::F64, {"F64", 8}},         {DType::I64, {"I64", 8}},         {DType::U64, {"U64", 8}},
        {DType::F8_E8M0, {"F8_E8M0", 1}}, {DType::C64, {"C64", 8}},
    };
    for (const auto& [dtype, expected] : table) {
        QCOMPARE(dtypeName(dtype), std::string(expected.first));
        QCOMPARE(dtypeSize(dtype), expected.second);
        // Every name parses back to its dtype.
        const std::string header = std::string(R"({"t":{"dtype":")") + expected.first +
                                   R"(","shape":[1],"data_offsets":[0,)" + std::to_string(expected.second) +
                                   "]}}";
        QCOMPARE(parseBytes(fileOf(header, std::string(expected.second, '\0'))).tensors[0].dtype, dtype);
    }
    QVERIFY(dtypeIsSupported(DType::F32));
    QVERIFY(dtypeIsSupported(DType::F16));
    QVERIFY(dtypeIsSupported(DType::BF16));
    QVERIFY(!dtypeIsSupported(DType::I32));
    QVERIFY(!dtypeIsSupported(DType::F64));
}

void SafetensorsTest::rejects_data() {
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("detail");
    auto row = [](const char* name, const std::string& bytes, const char* detail) {
        QTest::newRow(name) << QByteArray(bytes.data(), static_cast<qsizetype>(bytes.size()))
                            << QString(detail);
    };
    const std::string f32x2 = R"("dtype":"F32","shape":[2])";
    // 1. HeaderTooSmall.
    row("empty file", "", "too small");
    row("7 bytes", std::string(7, '\0'), "too small");
    // 2. HeaderTooLarge and InvalidHeaderLength.
    row("header length 100,000,001", littleEndian64(100'000'001) + "{}", "exceeds the limit of 100000000");
    row("header length 2^64-1 (8+N overflows)", littleEndian64(UINT64_MAX) + "{}", "exceeds the limit");
    row("header length past EOF", fileOf("{}", "", 100), "runs past the end");
    row("header length one past EOF", fileOf("{}", "", 3), "runs past the end");
    // 3. Not UTF-8 JSON.
    row("invalid UTF-8 in a name",
        fileOf("{\"w\xff\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", std::string(4, '\0')),
        "not valid UTF-8 JSON");
    row("overlong UTF-8", fileOf("{\"\xc0\xaf\":1}", ""), "not valid UTF-8 JSON");
    row("truncated JSON", fileOf(R"({"w":{"dtype":"F32")", ""), "not valid UTF-8 JSON");
    row("empty header", fileOf("", ""), "not valid UTF-8 JSON");
    row("header is an array", fileOf("[]", ""), "not a JSON object");
    // Duplicate keys, which serde refuses and a JSON library would silently merge.
    row("duplicate tensor names",
        fileOf(R"({"w":{)" + f32x2 + R"(,"data_offsets":[0,8]},"w":{)" + f32x2 +
                   R"(,"data_offsets":[8,16]}})",
               std::string(16, '\0')),
        "names 'w' twice");
    // Entries.
    row("entry is not an object", fileOf(R"({"w":5})", ""), "tensor 'w': entry is not a JSON object");
    row("no dtype", fileOf(R"({"w":{"shape":[],"data_offsets":[0,4]}})", std::string(4, '\0')), "no 'dtype'");
    row("no shape", fileOf(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", std::string(4, '\0')),
        "no 'shape'");
    row("no data_offsets", fileOf(R"({"w":{"dtype":"F32","shape":[1]}})", std::string(4, '\0')),
        "no 'data_offsets'");
    row("unknown dtype I4",
        fileOf(R"({"w":{"dtype":"I4","shape":[2],"data_offsets":[0,1]}})", std::string(1, '\0')),
        "tensor 'w' has dtype 'I4'");
    row("unknown dtype F4",
        fileOf(R"({"w":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}})", std::string(1, '\0')),
        "tensor 'w' has dtype 'F4'");
    row("lower-case dtype",
        fileOf(R"({"w":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0')),
        "dtype 'f32'");
    row("dtype not a string",
        fileOf(R"({"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0')),
        "'dtype' is not a string");
    row("negative shape",
        fileOf(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", std::string(4, '\0')),
        "'shape' holds -1");
    row("float shape",
        fileOf(R"({"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", std::string(8, '\0')),
        "'shape' holds 2.5");
    row("string shape",
        fileOf(R"({"w":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}})", std::string(8, '\0')),
        "'shape' holds \"2\"");
    row("shape not an array",
        fileOf(R"({"w":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", std::string(8, '\0')),
        "'shape' is not an array");
    row("three data_offsets",
        fileOf(R"({"w":{)" + f32x2 + R"(,"data_offsets":[0,8,8]}})", std::string(8, '\0')),
        "'data_offsets' must be two");
    row("negative data_offsets", fileOf(R"({"w":{)" + f32x2 + R"(,"data_offsets":[-8,0]}})", ""),
        "'data_offsets' must be two");
    // Nesting a million deep (a 2 MB header): rejected without recursing once per level.
    const std::string deep = std::string(1'000'000, '[') + std::string(1'000'000, ']');
    row("deeply nested shape",
        fileOf(R"({"w":{"dtype":"F32","shape":[)" + deep + R"(],"data_offsets":[0,0]}})", ""),
        "'shape' holds an array");
    row("deeply nested metadata", fileOf(R"({"__metadata__":{"x":)" + deep + "}}", ""),
        "'__metadata__.x' is not a string");
    row("deeply nested and unclosed", fileOf(R"({"w":)" + std::string(1'000'000, '['), ""),
        "not valid UTF-8 JSON");
    // 4. InvalidOffset: end < begin, gaps, overlaps.
    row("end before begin",
        fileOf(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", std::string(8, '\0')),
        "tensor 'w': data_offsets end before they begin");
    row("gap at the start",
        fileOf(R"({"w":{)" + f32x2 + R"(,"data_offsets":[4,12]}})", std::string(12, '\0')),
        "tensor 'w' (bytes 4..12) leaves a gap after the start of the data buffer");
    row("gap between tensors",
        fileOf(R"({"a":{)" + f32x2 + R"(,"data_offsets":[0,8]},"b":{)" + f32x2 +
                   R"(,"data_offsets":[12,20]}})",
               std::string(20, '\0')),
        "tensor 'b' (bytes 12..20) leaves a gap after tensor 'a'");
    row("overlapping tensors",
        fileOf(R"({"a":{)" + f32x2 + R"(,"data_offsets":[0,8]},"b":{)" + f32x2 +
                   R"(,"data_offsets":[4,12]}})",
               std::string(12, '\0')),
        "tensor 'b' (bytes 4..12) overlaps tensor 'a'");
    row("two tensors on the same bytes",
        fileOf(R"({"a":{)" + f32x2 + R"(,"data_offsets":[0,8]},"b":{)" + f32x2 + R"(,"data_offsets":[0,8]}})",
               std::string(8, '\0')),
        "overlaps tensor");
    // 5. TensorInvalidInfo and ValidationOverflow.
    row("size smaller than numel x dtype size",
        fileOf(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", std::string(20, '\0')),
        "tensor 'w': shape and dtype make 24 bytes but data_offsets span 20");
    row("size larger than numel x dtype size",
        fileOf(R"({"w":{"dtype":"BF16","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0')),
        "shape and dtype make 6 bytes but data_offsets span 8");
    row("numel overflows",
        fileOf(R"({"w":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", ""),
        "tensor 'w': shape x dtype size overflows 64 bits");
    row("numel x dtype size overflows",
        fileOf(R"({"w":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}})", ""),
        "overflows 64 bits");
    // 6. MetadataIncompleteBuffer.
    row("trailing bytes", fileOf(R"({"w":{)" + f32x2 + R"(,"data_offsets":[0,8]}})", std::string(9, '\0')),
        "the tensors end at byte");
    row("truncated buffer", fileOf(R"({"w":{)" + f32x2 + R"(,"data_offsets":[0,8]}})", std::string(7, '\0')),
        "(truncated, or trailing data)");
    row("no tensors but data", fileOf("{}", "abcd"), "the tensors end at byte 10 but the file has 14 bytes");
    // __metadata__: strings only, and Transformers' format rule.
    row("metadata value a number", fileOf(R"({"__metadata__":{"format":"pt","step":3}})", ""),
        "'__metadata__.step' is not a string");
    row("metadata value null", fileOf(R"({"__metadata__":{"note":null}})", ""),
        "'__metadata__.note' is not a string");
    row("metadata not an object", fileOf(R"({"__metadata__":["pt"]})", ""),
        "'__metadata__' is not a JSON object");
    row("metadata format numpy", fileOf(R"({"__metadata__":{"format":"numpy"}})", ""),
        "'__metadata__.format' is 'numpy'");
}

void SafetensorsTest::rejects() {
    QFETCH(QByteArray, bytes);
    QFETCH(QString, detail);
    const std::string message = parseError(bytes.toStdString());
    QVERIFY2(!message.empty(), "accepted");
    QVERIFY2(contains(message, kSource), message.c_str());
    QVERIFY2(contains(message, detail.toStdString()), message.c_str());
}

void SafetensorsTest::accepts_data() {
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<int>("tensors");
    auto row = [](const char* name, const std::string& bytes, int tensors) {
        QTest::newRow(name) << QByteArray(bytes.data(), static_cast<qsizetype>(bytes.size())) << tensors;
    };
    row("empty (0-element) tensor", fileOf(R"({"e":{"dtype":"F32","shape":[0,4],"data_offsets":[0,0]}})", ""),
        1);
    row("0-rank tensor",
        fileOf(R"({"s":{"dtype":"F64","shape":[],"data_offsets":[0,8]}})", std::string(8, '\0')), 1);
    row("empty tensor between others",
        fileOf(
            R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"e":{"dtype":"F32","shape":[3,0],"data_offsets":[2,2]},)"
            R"("b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}})",
            "abc"),
        3);
    row("no tensors", fileOf("{}", ""), 0);
    row("only metadata", fileOf(R"({"__metadata__":{"format":"pt"}})", ""), 0);
    row("format tf", fileOf(R"({"__metadata__":{"format":"tf"}})", ""), 0);
    row("format flax", fileOf(R"({"__metadata__":{"format":"flax"}})", ""), 0);
    row("format mlx", fileOf(R"({"__metadata__":{"format":"mlx"}})", ""), 0);
    row("metadata without format", fileOf(R"({"__metadata__":{"note":"x"}})", ""), 0);
    row("header padded with spaces",
        fileOf(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}      )", "z"), 1);
    // The official reader's "starts with {" check is still commented out.
    row("header with leading whitespace",
        fileOf(R"(  {"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", "z"), 1);
    row("unaligned offsets",
        fileOf(
            R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"F32","shape":[1],"data_offsets":[1,5]}})",
            std::string(5, '\0')),
        2);
    row("unicode tensor name",
        fileOf("{\"poids_\xc3\xa9\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", "z"), 1);
}

void SafetensorsTest::accepts() {
    QFETCH(QByteArray, bytes);
    QFETCH(int, tensors);
    try {
        const SafetensorsHeader header = parseBytes(bytes.toStdString());
        QCOMPARE(static_cast<int>(header.tensors.size()), tensors);
        QCOMPARE(static_cast<int>(header.positions.size()), tensors);
        for (const TensorInfo& t : header.tensors) QCOMPARE(header.find(t.name), &t);
    } catch (const Error& e) {
        QFAIL(e.what());
    }
}

// The same checks through a file on disk: the path names it.
void SafetensorsTest::readsFileOfSevenBytes() {
    QTemporaryDir dir;
    const auto path = tempPath(dir, "short.safetensors");
    test::writeFile(path, "1234567");
    try {
        SafetensorsFile file(path);
        QFAIL("a 7-byte file was read");
    } catch (const Error& e) {
        QVERIFY2(contains(e.what(), path.string()), e.what());
        QVERIFY2(contains(e.what(), "too small"), e.what());
    }
    test::writeFile(path, "");
    QVERIFY_THROWS_EXCEPTION(Error, SafetensorsFile{path});
}

void SafetensorsTest::readsMissingFile() {
    QTemporaryDir dir;
    const auto path = tempPath(dir, "absent.safetensors");
    try {
        SafetensorsFile file(path);
        QFAIL("a missing file was read");
    } catch (const Error& e) {
        QVERIFY2(contains(e.what(), path.string()), e.what());
    }
}

void SafetensorsTest::index_data() {
    QTest::addColumn<QString>("json");
    QTest::addColumn<int>("tensors");
    QTest::newRow("two shards")
        << R"({"metadata": {"total_size": 24}, "weight_map": {"a": "model-00001-of-00002.safetensors",
                                     "b": "model-00002-of-00002.safetensors", "c": "model-00001-of-00002.safetensors"}})"
        << 3;
    QTest::newRow("no metadata") << R"({"weight_map": {"a": "x.safetensors"}})" << 1;
    QTest::newRow("dots inside a name") << R"({"weight_map": {"a": "model.v2.safetensors"}})" << 1;
}

void SafetensorsTest::index() {
    QFETCH(QString, json);
    QFETCH(int, tensors);
    const auto map = parseSafetensorsIndex(json.toStdString(), "model.safetensors.index.json");
    QCOMPARE(static_cast<int>(map.size()), tensors);
    QVERIFY(!map.at("a").empty());
}

void SafetensorsTest::indexRejects_data() {
    QTest::addColumn<QString>("json");
    QTest::addColumn<QString>("detail");
    QTest::newRow("shard in a subfolder") << R"({"weight_map": {"a": "sub/x.safetensors"}})"
                                          << "names shard 'sub/x.safetensors'";
    QTest::newRow("shard in the parent folder") << R"({"weight_map": {"a": "../x.safetensors"}})"
                                                << "names shard '../x.safetensors'";
    QTest::newRow("shard is '..'") << R"({"weight_map": {"a": ".."}})"
                                   << "names shard '..'";
    QTest::newRow("absolute shard path") << R"({"weight_map": {"a": "/etc/passwd"}})"
                                         << "names shard '/etc/passwd'";
    QTest::newRow("backslash") << R"({"weight_map": {"a": "..\\x.safetensors"}})"
                               << "not a plain file name";
    // open() would stop at the NUL and read model.safetensors (fuzz_safetensors_index checks it).
    QTest::newRow("NUL in shard name")
        << R"({"weight_map": {"a": "model.safetensors\u0000.x"}})"
        << R"(names shard "model.safetensors\u0000.x", which is not a plain file)";
    QTest::newRow("control character in shard name") << R"({"weight_map": {"a": "x\u001b[2J.safetensors"}})"
                                                     << "not a plain file name";
    QTest::newRow("empty shard name") << R"({"weight_map": {"a": ""}})"
                                      << "names shard ''";
    QTest::newRow("shard not a string") << R"({"weight_map": {"a": 1}})"
                                        << "weight_map['a'] is not a file name";
    QTest::newRow("no weight_map") << R"({"metadata": {}})"
                                   << "no 'weight_map'";
    QTest::newRow("weight_map an array") << R"({"weight_map": ["x.safetensors"]})"
                                         << "no 'weight_map'";
    QTest::newRow("empty weight_map") << R"({"weight_map": {}})"
                                      << "weight_map is empty";
    QTest::newRow("duplicate tensor") << R"({"weight_map": {"a": "x.safetensors", "a": "y.safetensors"}})"
                                      << "names 'a' twice";
    QTest::newRow("not JSON") << "{"
                              << "not valid";
}

void SafetensorsTest::indexRejects() {
    QFETCH(QString, json);
    QFETCH(QString, detail);
    try {
        parseSafetensorsIndex(json.toStdString(), "dir/model.safetensors.index.json");
        QFAIL("accepted");
    } catch (const Error& e) {
        QVERIFY2(contains(e.what(), "dir/model.safetensors.index.json"), e.what());
        QVERIFY2(contains(e.what(), detail.toStdString()), e.what());
    }
}

void SafetensorsTest::singleFileCheckpoint() {
    const auto dir = test::fixture("hf/e4-step2-fp32");
    const Checkpoint checkpoint(dir);
    const SafetensorsFile file(dir / "model.safetensors");
    QCOMPARE(checkpoint.describedBy(), dir / "model.safetensors");
    const auto names = checkpoint.tensorNames();
    QCOMPARE(names.size(), file.header().tensors.size());
    uint64_t bytes = 0;
    for (const std::string& name : names) {
        const TensorLocation location = checkpoint.locate(name);
        QVERIFY(location.file && location.info);
        QCOMPARE(location.info->name, name);
        QCOMPARE(location.info->shape, file.header().find(name)->shape);
        bytes += location.info->byteSize();
    }
    QCOMPARE(checkpoint.totalBytes(), bytes);
    QCOMPARE(checkpoint.totalBytes(),
             std::filesystem::file_size(dir / "model.safetensors") - file.header().dataOffset);
    QVERIFY(checkpoint.contains("shared.weight"));
    QVERIFY(checkpoint.contains("encoder.block.1.layer.1.mlp.experts.expert_3.wo.weight"));
    QVERIFY(!checkpoint.contains("encoder.block.1.layer.1.mlp.experts.expert_4.wo.weight"));
    try {
        checkpoint.locate("decoder.nothing.weight");
        QFAIL("located a tensor that is not there");
    } catch (const Error& e) {
        QVERIFY2(contains(e.what(), "'decoder.nothing.weight'"), e.what());
        QVERIFY2(contains(e.what(), "model.safetensors"), e.what());
    }
}

void SafetensorsTest::shardedCheckpoint() {
    const auto dir = test::fixture("hf/e4-step2-sharded");
    const Checkpoint checkpoint(dir);
    QCOMPARE(checkpoint.describedBy(), dir / "model.safetensors.index.json");
    const auto weightMap =
        parseSafetensorsIndex(test::readFile(dir / "model.safetensors.index.json"), "index");
    QCOMPARE(checkpoint.tensorNames().size(), weightMap.size());

    // Each tensor comes from the shard the index names, and each shard is opened once.
    std::set<const SafetensorsFile*> files;
    std::set<std::string> shardNames;
    for (const auto& [tensor, shard] : weightMap) {
        const TensorLocation location = checkpoint.locate(tensor);
        QCOMPARE(location.file->path().filename().string(), shard);
        QCOMPARE(location.info->name, tensor);
        files.insert(location.file);
        shardNames.insert(shard);
    }
    QCOMPARE(files.size(), shardNames.size());
    QCOMPARE(files.size(), size_t(5));

    // Every tensor of every shard is mapped, so the total is the shards' data bytes.
    uint64_t shardBytes = 0;
    for (const std::string& shard : shardNames) {
        const SafetensorsFile file(dir / shard);
        shardBytes += std::filesystem::file_size(dir / shard) - file.header().dataOffset;
    }
    QCOMPARE(checkpoint.totalBytes(), shardBytes);

    // The sharded and single-file fixtures hold the same architecture.
    const Checkpoint single(test::fixture("hf/e4-step2-fp32"));
    QCOMPARE(checkpoint.tensorNames(), single.tensorNames());
}

// from_pretrained tries model.safetensors before model.safetensors.index.json.
void SafetensorsTest::checkpointPrefersSingleFileLikeTransformers() {
    QTemporaryDir temp;
    const auto dir = test::copyModel(test::fixture("hf/e4-step2-sharded"), temp);
    std::filesystem::copy_file(test::fixture("hf/e4-step2-fp32/model.safetensors"),
                               dir / "model.safetensors");
    const Checkpoint checkpoint(dir);
    QCOMPARE(checkpoint.describedBy(), dir / "model.safetensors");
    for (const std::string& name : checkpoint.tensorNames())
        QCOMPARE(checkpoint.locate(name).file->path(), dir / "model.safetensors");
    // Even when the index is broken, since it is never read.
    test::writeFile(dir / "model.safetensors.index.json", "{");
    QCOMPARE(Checkpoint(dir).describedBy(), dir / "model.safetensors");
}

void SafetensorsTest::checkpointMissingShard() {
    QTemporaryDir temp;
    const auto dir = test::copyModel(test::fixture("hf/e4-step2-sharded"), temp);
    std::filesystem::remove(dir / "model-00003-of-00005.safetensors");
    const std::string message = checkpointError(dir);
    QVERIFY2(contains(message, "model.safetensors.index.json"), message.c_str());
    QVERIFY2(contains(message, "shard 'model-00003-of-00005.safetensors'"), message.c_str());
    QVERIFY2(contains(message, "missing"), message.c_str());
}

void SafetensorsTest::checkpointShardLacksTensor() {
    QTemporaryDir temp;
    const auto dir = test::copyModel(test::fixture("hf/e4-step2-sharded"), temp);
    const auto indexPath = dir / "model.safetensors.index.json";
    std::string index = test::readFile(indexPath);
    // shared.weight lives in shard 1; point the index at shard 5 instead.
    const std::string entry = R"("shared.weight": "model-00001-of-00005.safetensors")";
    const size_t at = index.find(entry);
    QVERIFY2(at != std::string::npos, "fixture index changed");
    index.replace(at, entry.size(), R"("shared.weight": "model-00005-of-00005.safetensors")");
    test::writeFile(indexPath, index);
    const std::string message = checkpointError(dir);
    QVERIFY2(contains(message, "tensor 'shared.weight'"), message.c_str());
    QVERIFY2(contains(message, "'model-00005-of-00005.safetensors', which does not contain it"),
             message.c_str());
}

void SafetensorsTest::checkpointWithoutWeights() {
    QTemporaryDir temp;
    const auto dir = std::filesystem::path(temp.path().toStdString()) / "empty";
    std::filesystem::create_directories(dir);
    std::string message = checkpointError(dir);
    QVERIFY2(contains(message, "has no model.safetensors"), message.c_str());
    test::writeFile(dir / "pytorch_model.bin", "PK\x03\x04 not really a pickle");
    message = checkpointError(dir);
    QVERIFY2(contains(message, "pytorch_model.bin"), message.c_str());
    QVERIFY2(contains(message, dir.string()), message.c_str());
}

// save_file's output, reproduced from the tensors it holds. Python's safetensors serialises
// __metadata__ from a Rust HashMap, whose order is random per process (run save_file twice and
// the keys swap), so that one object is compared as a set of members; every other byte must match.
void SafetensorsTest::writerMatchesPythonByteForByte() {
    const auto pythonPath = test::fixture("safetensors/python_written.safetensors");
    const SafetensorsFile python(pythonPath);
    QCOMPARE(python.header().tensors.size(), size_t(6));
    SafetensorsWriter writer;
    for (const auto& [key, value] : python.header().metadata) writer.setMetadata(key, value);
    // Added in reverse name order: the writer must do the ordering itself.
    std::vector<TensorInfo> tensors = python.header().tensors;
    std::sort(tensors.begin(), tensors.end(), [](const auto& a, const auto& b) { return a.name > b.name; });
    for (const TensorInfo& t : tensors) writer.add(t.name, t.dtype, t.shape, python.data(t));
    QTemporaryDir dir;
    const auto ourPath = tempPath(dir, "ours.safetensors");
    writer.write(ourPath);

    const std::string theirs = test::readFile(pythonPath), ours = test::readFile(ourPath);
    QCOMPARE(ours.size(), theirs.size());
    const uint64_t headerLength = python.header().dataOffset - 8;
    QCOMPARE(ours.substr(0, 8), theirs.substr(0, 8));
    std::string ourHeader = ours.substr(8, headerLength), theirHeader = theirs.substr(8, headerLength);
    size_t ourStart = 0, theirStart = 0;
    const std::string ourMetadata = metadataObject(ourHeader, &ourStart);
    const std::string theirMetadata = metadataObject(theirHeader, &theirStart);
    QVERIFY(!theirMetadata.empty());
    QCOMPARE(ourStart, theirStart);
    QCOMPARE(members(ourMetadata), members(theirMetadata));
    QCOMPARE(members(ourMetadata).size(), size_t(2));
    ourHeader.replace(ourStart, ourMetadata.size(), theirMetadata);
    QCOMPARE(ourHeader, theirHeader);
    QVERIFY(ours.substr(8 + headerLength) == theirs.substr(8 + headerLength));
}

void SafetensorsTest::writerRoundTrip() {
    std::vector<float> weights(24);
    for (size_t i = 0; i < weights.size(); ++i) weights[i] = 0.25f * static_cast<float>(i) - 3.0f;
    const std::vector<int64_t> ids{-1, 0, 1LL << 40};
    const std::vector<uint16_t> half{0x3c00, 0xc000, 0x7bff};
    const std::string flags("\x01\x00\x01", 3);
    SafetensorsWriter writer;
    writer.add("z.weights", DType::F32, {2, 3, 4}, std::as_bytes(std::span(weights)));
    writer.add("a.ids", DType::I64, {3}, std::as_bytes(std::span(ids)));
    writer.add("m.half", DType::F16, {3}, std::as_bytes(std::span(half)));
    writer.add("flags", DType::BOOL, {3}, asBytes(flags));
    writer.add("empty", DType::BF16, {0, 7}, {});
    writer.add("scalar", DType::F32, {}, std::as_bytes(std::span(weights).first(1)));
    writer.setMetadata("epoch", "3");
    writer.setMetadata("note", "quotes \" and \\ and ünïcode");
    QTemporaryDir dir;
    const auto path = tempPath(dir, "round.safetensors");
    writer.write(path);
    QVERIFY(!std::filesystem::exists(path.string() + ".partial"));

    const SafetensorsFile file(path);
    const SafetensorsHeader& h = file.header();
    QCOMPARE(h.metadata, (std::map<std::string, std::string>{
                             {"format", "pt"}, {"epoch", "3"}, {"note", "quotes \" and \\ and ünïcode"}}));
    QCOMPARE((h.dataOffset - 8) % 8, uint64_t(0));
    // Ordered by dtype alignment, then name; so every tensor is aligned to its element size.
    std::vector<std::string> order;
    for (const TensorInfo& t : h.tensors) {
        order.push_back(t.name);
        QCOMPARE((h.dataOffset + t.begin) % dtypeSize(t.dtype), uint64_t(0));
    }
    QCOMPARE(order, (std::vector<std::string>{"a.ids", "scalar", "z.weights", "empty", "m.half", "flags"}));
    QCOMPARE(h.find("z.weights")->shape, (std::vector<int64_t>{2, 3, 4}));
    QCOMPARE(h.find("scalar")->shape, std::vector<int64_t>{});
    QCOMPARE(h.find("empty")->dtype, DType::BF16);
    QCOMPARE(h.find("empty")->byteSize(), uint64_t(0));
    QCOMPARE(asString(file.data(*h.find("z.weights"))), asString(std::as_bytes(std::span(weights))));
    QCOMPARE(asString(file.data(*h.find("a.ids"))), asString(std::as_bytes(std::span(ids))));
    QCOMPARE(asString(file.data(*h.find("m.half"))), asString(std::as_bytes(std::span(half))));
    QCOMPARE(asString(file.data(*h.find("flags"))), flags);
    QCOMPARE(asString(file.data(*h.find("scalar"))), asString(std::as_bytes(std::span(weights).first(1))));

    // Writing again replaces the file in place.
    SafetensorsWriter second;
    second.add("only", DType::U8, {1}, asBytes("q"));
    second.write(path);
    QCOMPARE(SafetensorsFile(path).header().tensors.size(), size_t(1));
}

void SafetensorsTest::writerRejectsBadInput() {
    SafetensorsWriter writer;
    const std::vector<float> three(3);
    try {
        writer.add("w", DType::F32, {2, 2}, std::as_bytes(std::span(three)));
        QFAIL("wrong byte count accepted");
    } catch (const Error& e) {
        QVERIFY2(contains(e.what(), "'w'"), e.what());
        QVERIFY2(contains(e.what(), "12 bytes"), e.what());
    }
    writer.add("w", DType::F32, {3}, std::as_bytes(std::span(three)));
    try {
        writer.add("w", DType::F32, {3}, std::as_bytes(std::span(three)));
        QFAIL("duplicate name accepted");
    } catch (const Error& e) {
        QVERIFY2(contains(e.what(), "'w' added twice"), e.what());
    }
    QTemporaryDir dir;
    const auto path = tempPath(dir, "no-such-folder/out.safetensors");
    try {
        writer.write(path);
        QFAIL("wrote into a folder that does not exist");
    } catch (const Error& e) {
        QVERIFY2(contains(e.what(), "no-such-folder"), e.what());
    }
}

QTEST_GUILESS_MAIN(SafetensorsTest)
#include "tst_safetensors.moc"
