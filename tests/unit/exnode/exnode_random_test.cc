// Randomized model tests: random valid exNodes round-trip through text, and
// randomly damaged text is either rejected with a line number or yields a
// valid model (never a crash or a half-parsed model).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "core/exnode/exnode.h"

namespace tessera {
namespace {

uint64_t TestSeed() {
  if (const char* env = std::getenv("TESSERA_TEST_SEED")) return std::strtoull(env, nullptr, 10);
  return std::random_device{}();
}

class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed) {}

  size_t Below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

  uint64_t Id() {
    switch (Below(3)) {
      case 0: return Below(20);
      case 1: return kMaxId63 - Below(3);
      default: return std::uniform_int_distribution<uint64_t>(0, kMaxId63)(rng_);
    }
  }

  std::string Key() {
    static constexpr std::string_view kChars =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-";
    std::string k;
    for (size_t n = 1 + Below(8); n > 0; --n) k += kChars[Below(kChars.size())];
    return k;
  }

  std::string Value() {
    static constexpr std::string_view kChars =
        "abcXYZ019 \t=#;[]:./\\\"'{}%\xc3\xa9";
    std::string v;
    for (size_t n = Below(14); n > 0; --n) v += kChars[Below(kChars.size())];
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.erase(v.begin());
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.pop_back();
    return v;
  }

  Exnode Model() {
    Exnode ex;
    ex.id = Id();
    ex.name = Value();
    std::set<uint64_t> block_ids, segment_ids;
    for (size_t n = Below(7); n > 0; --n) {
      ExnodeBlock b;
      do b.id = Id(); while (!block_ids.insert(b.id).second);
      b.read_cap = Value();
      b.write_cap = Value();
      b.manage_cap = Value();
      b.max_size = std::uniform_int_distribution<uint64_t>()(rng_);
      b.size = Below(2) ? b.max_size : b.max_size / (1 + Below(5));
      b.vdev = "v" + Value();
      for (size_t e = Below(3); e > 0; --e) b.extra.push_back({"x" + Key(), Value()});
      ex.blocks.push_back(std::move(b));
    }
    for (size_t n = 1 + Below(6); n > 0; --n) {
      ExnodeSegment s;
      do s.id = Id(); while (!segment_ids.insert(s.id).second);
      s.type = static_cast<SegmentType>(Below(5));
      for (size_t p = Below(5); p > 0; --p) {
        std::string key = Key();
        auto refs = SegmentReferenceKeys(s.type);
        if (key == "type" || key == "row" || std::find(refs.begin(), refs.end(), key) != refs.end()) {
          key = "x" + key;
        }
        s.Add(key, Value());
        if (s.type == SegmentType::kLun && !ex.blocks.empty() && Below(2)) s.Add("row", Row(ex));
      }
      // Reference only earlier segments, so the graph is acyclic.
      for (auto key : SegmentReferenceKeys(s.type)) {
        if (!ex.segments.empty() && Below(4)) {
          s.Add(std::string(key), std::to_string(ex.segments[Below(ex.segments.size())].id));
        }
      }
      std::shuffle(s.params.begin(), s.params.end(), rng_);
      ex.segments.push_back(std::move(s));
    }
    std::shuffle(ex.segments.begin(), ex.segments.end(), rng_);
    for (const auto& s : ex.segments) {
      if (ex.view_segments.empty() || Below(2)) ex.view_segments.push_back(s.id);
    }
    ex.default_segment = ex.view_segments[Below(ex.view_segments.size())];
    return ex;
  }

  std::string Row(const Exnode& ex) {
    LunRow row;
    row.seg_offset = Below(1000);
    row.seg_end = row.seg_offset + Below(1000);
    row.row_len = Below(1 << 20);
    for (size_t d = 1 + Below(4); d > 0; --d) {
      row.devices.push_back({ex.blocks[Below(ex.blocks.size())].id, Below(1 << 20)});
    }
    return row.ToString();
  }

  std::string Mutate(std::string text) {
    static constexpr std::string_view kInsert = "\n=[]-0123456789 #;xtype";
    for (size_t n = 1 + Below(3); n > 0 && !text.empty(); --n) {
      size_t at = Below(text.size());
      switch (Below(4)) {
        case 0: text.erase(at, 1); break;
        case 1: text.insert(at, 1, kInsert[Below(kInsert.size())]); break;
        case 2: {  // duplicate the line holding `at`
          size_t start = text.rfind('\n', at);
          start = start == std::string::npos ? 0 : start + 1;
          size_t end = text.find('\n', at);
          end = end == std::string::npos ? text.size() : end + 1;
          text.insert(start, text.substr(start, end - start));
          break;
        }
        default: text[at] = kInsert[Below(kInsert.size())]; break;
      }
    }
    return text;
  }

 private:
  std::mt19937_64 rng_;
};

TEST(ExnodeRandom, ModelsRoundTripThroughText) {
  const uint64_t seed = TestSeed();
  SCOPED_TRACE(testing::Message() << "seed=" << seed << " (rerun with TESSERA_TEST_SEED)");
  Gen gen(seed);
  for (int i = 0; i < 500; ++i) {
    Exnode model = gen.Model();
    auto text = SerializeExnode(model);
    ASSERT_TRUE(text.has_value()) << "iteration " << i << ": " << text.error().ToString();
    auto parsed = ParseExnode(*text);
    ASSERT_TRUE(parsed.has_value()) << "iteration " << i << ": " << parsed.error().ToString()
                                    << "\n" << *text;
    ASSERT_EQ(*parsed, model) << "iteration " << i << "\n" << *text;
    ASSERT_EQ(SerializeExnode(*parsed).value(), *text) << "iteration " << i;
  }
}

TEST(ExnodeRandom, DamagedTextIsRejectedWithALineOrStaysValid) {
  const uint64_t seed = TestSeed();
  SCOPED_TRACE(testing::Message() << "seed=" << seed << " (rerun with TESSERA_TEST_SEED)");
  Gen gen(seed);
  int rejected = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string text = gen.Mutate(SerializeExnode(gen.Model()).value());
    auto parsed = ParseExnode(text);
    if (!parsed) {
      ++rejected;
      ASSERT_EQ(parsed.error().code(), Code::kInvalidArgument) << text;
      ASSERT_TRUE(parsed.error().message().starts_with("line ")) << parsed.error().message();
      continue;
    }
    ASSERT_TRUE(ValidateExnode(*parsed).has_value()) << text;
    auto again = SerializeExnode(*parsed);
    ASSERT_TRUE(again.has_value()) << text;
    ASSERT_EQ(ParseExnode(*again).value(), *parsed) << text;
  }
  EXPECT_GT(rejected, 100);  // the mutations do reach the validator
}

}  // namespace
}  // namespace tessera
