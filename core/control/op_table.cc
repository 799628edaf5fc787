// The registry of control ops, built from ControlOps (ops.h).
//
// Design notes
//  1. One row per op type, made by EntryOf<Op>: DispatchOp<Op> is the only
//     place a request is decoded and an op run, for every op.
//  2. The table is a function-local static: built on first use, then only
//     read (op_table.h contract 3). Ops are few; lookup is a linear scan.
//  3. Progress is throttled here (OpCall::Progress), so a fast pass does not
//     flood the socket.
#include "core/control/op_table.h"

#include <chrono>
#include <memory>
#include <type_traits>

#include "core/control/ops.h"

namespace tessera {
namespace {

constexpr auto kProgressEvery = std::chrono::milliseconds(250);

// Design note 1; op_table.h contract 2.
template <typename Op>
Result<Json> DispatchOp(PoolApi& pool, JsonFields& fields, const OpCall& call) {
  typename Op::Request args{};
  FieldDecoder decoder(fields);
  Fields(decoder, args);
  TRY_STATUS(decoder.status());
  TRY_STATUS(fields.NoOtherFields());
  if constexpr (std::is_void_v<typename Op::Reply>) {
    TRY_STATUS(Op::Run(pool, args, call));
    return Json();
  } else {
    return ReplyToJson(TRY(Op::Run(pool, args, call)));
  }
}

template <typename Op>
OpEntry EntryOf() {
  typename Op::Request defaults{};
  FieldDescriber describer;
  Fields(describer, defaults);
  std::string arguments = describer.Text();
  if constexpr (requires { Op::kPassesFd; }) {
    arguments = arguments == "none" ? "the stream file's descriptor"
                                    : arguments + ", and the stream file's descriptor";
  }
  return OpEntry{.name = Op::kName,
                 .dispatch = &DispatchOp<Op>,
                 .arguments_doc = std::move(arguments),
                 .result_doc = Op::kResultDoc};
}

template <typename... Ops>
std::vector<OpEntry> MakeTable(OpList<Ops...>) {
  return {EntryOf<Ops>()...};
}

}  // namespace

ProgressFn ThrottledProgress(ProgressFn sink) {
  if (!sink) return ProgressFn();
  auto last = std::make_shared<std::chrono::steady_clock::time_point>();
  return [sink = std::move(sink), last](const tessera::Progress& p) {
    auto now = std::chrono::steady_clock::now();
    if (p.done != p.total && now - *last < kProgressEvery) return;
    *last = now;
    sink(p);
  };
}

ProgressFn OpCall::Progress(bool wanted) const { return wanted ? ThrottledProgress(sink_) : ProgressFn(); }

Result<int> OpCall::PassedStream() const {
  if (passed_fd_ < 0) {
    return Err(Code::kInvalidArgument,
               "{} needs the stream file's descriptor passed with the request (SCM_RIGHTS)", op_);
  }
  return passed_fd_;
}

std::span<const OpEntry> ControlOpTable() {
  static const std::vector<OpEntry> table = MakeTable(ControlOps{});
  return table;
}

const OpEntry* FindControlOp(std::string_view name) {
  for (const OpEntry& entry : ControlOpTable()) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

Error UnknownOpError(std::string_view name) {
  std::string expected;
  std::span<const OpEntry> table = ControlOpTable();
  for (size_t i = 0; i < table.size(); ++i) {
    if (i > 0) expected += i + 1 == table.size() ? " or " : ", ";
    expected += table[i].name;
  }
  return Error(Code::kInvalidArgument, fmt::format("unknown op '{}'; expected {}", name, expected));
}

std::string ControlOpTableMarkdown() {
  std::string out = "| op | arguments | result |\n| --- | --- | --- |\n";
  for (const OpEntry& entry : ControlOpTable()) {
    out += fmt::format("| `{}` | {} | {} |\n", entry.name, entry.arguments_doc, entry.result_doc);
  }
  return out;
}

}  // namespace tessera
