// The table of control operations: how one op is described, and the
// registry that dispatch, the client and the docs all read.
//
// An op is a type (core/control/ops.h holds them all) with
//   static constexpr std::string_view kName;       // "volume.resize"
//   static constexpr std::string_view kResultDoc;  // the docs' result column
//   static constexpr bool kPassesFd = true;        // only if the request
//                                                  // carries a descriptor
//   using Request = ...;  // its arguments; a Fields() function lists them
//   using Reply = ...;    // its result; void when it answers null
//   static Result<Reply> Run(PoolApi&, const Request&, const OpCall&);
// and its place in ControlOps (ops.h). Nothing else names it: dispatch finds
// it by name, PoolClient::Call<Op> sends it, the unknown-op error and the op
// table of docs/control-protocol.md list it.
//
// A request type lists its fields once, in a function found by ADL
// (json_visit.h):
//   template <typename V> void Fields(V& v, ResizeArgs& a) {
//     v.Required("name", a.name);
//     v.Required("size", a.size);
//     v.Optional("force", a.force);
//   }
// The same function encodes (FieldEncoder), decodes (FieldDecoder) and
// documents (FieldDescriber) the request; value types (the results) are
// listed the same way (protocol.h).
//
// Contract
//  1. Field kinds: json_visit.h contract 1. An Optional field that is
//     absent keeps the value a default-constructed Request has.
//  2. Decoding stops at the first bad field, in the order Fields lists them,
//     with the JsonFields error naming it ("request: missing field 'name'");
//     then any field not listed is rejected. Run is called only after both,
//     so a bad request changes nothing.
//  3. Op names are unique (op_table_test.cc checks it); the table is built
//     once, on first use, and read-only after: callable from any thread.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/control/json_fields.h"
#include "core/control/json_visit.h"
#include "core/control/protocol.h"

namespace tessera {

class PoolApi;

// The request object of `Op` with arguments `args` (contract 1).
template <typename Op>
Json RequestJson(typename Op::Request args) {
  Json request = Json::object();
  request["op"] = std::string(Op::kName);
  FieldEncoder encoder(request);
  Fields(encoder, args);
  return request;
}

// `sink` throttled to at most one report per 250 ms, plus the last of each
// phase (done == total); empty for an empty sink.
ProgressFn ThrottledProgress(ProgressFn sink);

// What an op's Run gets besides its arguments: the request's extras.
class OpCall {
 public:
  OpCall(std::string_view op, ProgressFn sink, int passed_fd)
      : op_(op), sink_(std::move(sink)), passed_fd_(passed_fd) {}
  // For a request that asked for progress (`wanted`): the caller's progress
  // function, throttled (ThrottledProgress). Empty otherwise.
  ProgressFn Progress(bool wanted) const;
  // The descriptor passed with the request (borrowed); InvalidArgument when
  // none came (dispatch.h contract 4).
  Result<int> PassedStream() const;

 private:
  std::string_view op_;
  ProgressFn sink_;
  int passed_fd_;
};

template <typename... Ops>
struct OpList {};

// One row of the registry, made from an op type (op_table.cc).
struct OpEntry {
  std::string_view name;
  // Decodes the request (`fields`: its "op" already read), runs the op and
  // encodes its result (contract 2).
  Result<Json> (*dispatch)(PoolApi& pool, JsonFields& fields, const OpCall& call);
  std::string arguments_doc;  // from FieldDescriber
  std::string_view result_doc;
};

// Every op, in the order of ControlOps (ops.h).
std::span<const OpEntry> ControlOpTable();
// nullptr for an unknown name.
const OpEntry* FindControlOp(std::string_view name);
// InvalidArgument "unknown op 'x'; expected volume.create, ... or commit".
Error UnknownOpError(std::string_view name);
// The op table of docs/control-protocol.md, as markdown.
std::string ControlOpTableMarkdown();

}  // namespace tessera
