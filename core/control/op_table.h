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
//   static Result<Reply> Run(Storage&, const Request&, const OpCall&);
// and its place in ControlOps (ops.h). Nothing else names it: dispatch finds
// it by name, PoolClient::Call<Op> sends it, the unknown-op error and the op
// table of docs/control-protocol.md list it.
//
// A request type lists its fields once, in a function found by ADL:
//   template <typename V> void Fields(V& v, ResizeArgs& a) {
//     v.Required("name", a.name);
//     v.Required("size", a.size);
//     v.Optional("force", a.force);
//   }
// The same function encodes (RequestEncoder), decodes (RequestDecoder) and
// documents (FieldDescriber) the request.
//
// Contract
//  1. Field kinds. Required: always sent, must be present. Optional: always
//     sent; when absent, the field keeps the value a default-constructed
//     Request has. OmitEmpty: sent only when not empty (a string) or set (an
//     optional); may be absent.
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
#include "core/control/protocol.h"

namespace tessera {

// How a field's C++ type reads from and writes to JSON. Specialized for
// enums next to the op that uses them (ops.h).
template <typename T>
struct JsonValue;

template <>
struct JsonValue<std::string> {
  static constexpr std::string_view kType = "string";
  static Result<std::optional<std::string>> Read(JsonFields& f, std::string_view key) {
    return f.OptionalString(key);
  }
  static Json Write(const std::string& value) { return value; }
};

template <>
struct JsonValue<uint64_t> {
  static constexpr std::string_view kType = "integer";
  static Result<std::optional<uint64_t>> Read(JsonFields& f, std::string_view key) {
    return f.OptionalUnsigned(key);
  }
  static Json Write(uint64_t value) { return value; }
};

template <>
struct JsonValue<bool> {
  static constexpr std::string_view kType = "boolean";
  static Result<std::optional<bool>> Read(JsonFields& f, std::string_view key) { return f.OptionalBool(key); }
  static Json Write(bool value) { return value; }
};

// Writes the fields of a request into a JSON object (contract 1).
class RequestEncoder {
 public:
  explicit RequestEncoder(Json& out) : out_(out) {}
  template <typename T>
  void Required(std::string_view key, const T& value) {
    out_[std::string(key)] = JsonValue<T>::Write(value);
  }
  template <typename T>
  void Optional(std::string_view key, const T& value) {
    Required(key, value);
  }
  void OmitEmpty(std::string_view key, const std::string& value) {
    if (!value.empty()) Required(key, value);
  }
  template <typename T>
  void OmitEmpty(std::string_view key, const std::optional<T>& value) {
    if (value) Required(key, *value);
  }

 private:
  Json& out_;
};

// Reads the fields of a request; status() holds the first error (contract 2).
class RequestDecoder {
 public:
  explicit RequestDecoder(JsonFields& fields) : fields_(fields) {}
  template <typename T>
  void Required(std::string_view key, T& value) {
    Read(key, value, /*required=*/true);
  }
  template <typename T>
  void Optional(std::string_view key, T& value) {
    Read(key, value, /*required=*/false);
  }
  void OmitEmpty(std::string_view key, std::string& value) { Read(key, value, false); }
  template <typename T>
  void OmitEmpty(std::string_view key, std::optional<T>& value) {
    T read{};
    bool present = false;
    Read(key, read, false, &present);
    if (present) value = std::move(read);
  }
  const Status& status() const { return status_; }

 private:
  template <typename T>
  void Read(std::string_view key, T& value, bool required, bool* present = nullptr) {
    if (!status_) return;
    Result<std::optional<T>> read = JsonValue<T>::Read(fields_, key);
    if (!read) {
      status_ = std::unexpected(read.error());
    } else if (*read) {
      value = std::move(**read);
      if (present) *present = true;
    } else if (required) {
      status_ = fields_.Missing(key);
    }
  }

  JsonFields& fields_;
  Status status_;
};

// Describes the fields of a request for the docs' op table.
class FieldDescriber {
 public:
  template <typename T>
  void Required(std::string_view key, const T&) {
    Add(key, JsonValue<T>::kType);
  }
  template <typename T>
  void Optional(std::string_view key, const T& default_value) {
    Add(key, fmt::format("{}, optional, default `{}`", JsonValue<T>::kType,
                         JsonValue<T>::Write(default_value).dump()));
  }
  void OmitEmpty(std::string_view key, const std::string&) { Add(key, "string, optional"); }
  template <typename T>
  void OmitEmpty(std::string_view key, const std::optional<T>&) {
    Add(key, fmt::format("{}, optional", JsonValue<T>::kType));
  }
  // "none" for an op without arguments.
  std::string Text() const { return text_.empty() ? "none" : text_; }

 private:
  void Add(std::string_view key, std::string_view type) {
    text_ += fmt::format("{}`{}` ({})", text_.empty() ? "" : ", ", key, type);
  }
  std::string text_;
};

// The request object of `Op` with arguments `args` (contract 1).
template <typename Op>
Json RequestJson(typename Op::Request args) {
  Json request = Json::object();
  request["op"] = std::string(Op::kName);
  RequestEncoder encoder(request);
  Fields(encoder, args);
  return request;
}

// What an op's Run gets besides its arguments: the request's extras.
class OpCall {
 public:
  OpCall(std::string_view op, ProgressFn sink, int passed_fd)
      : op_(op), sink_(std::move(sink)), passed_fd_(passed_fd) {}
  // For a request that asked for progress (`wanted`): the caller's progress
  // function, throttled to at most one report per 250 ms plus the last of
  // each phase (done == total). Empty otherwise.
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
  Result<Json> (*dispatch)(Storage& storage, JsonFields& fields, const OpCall& call);
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
