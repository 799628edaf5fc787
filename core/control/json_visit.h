// Field visitors: a type lists its JSON fields once, and that one list
// encodes it, decodes it and documents it.
//
// A type T lists its fields in a function found by ADL:
//   template <typename V> void Fields(V& v, T& t) {
//     v.Required("name", t.name);
//     v.Optional("force", t.force);
//   }
// A value type (a result) also names itself for error messages:
//   template <> inline constexpr std::string_view kJsonName<T> = "volume";
//
// Field types: std::string, uint64_t, uint32_t, bool, enums with a
// JsonValue specialization (the scalars); std::vector<std::string>,
// std::map<std::string, SCALAR>; a type with Fields and a kJsonName, and a
// std::vector of one.
//
// Contract
//  1. Field kinds. Required: always written, must be present. Optional:
//     always written; when absent, keeps the value the object had before
//     decoding (a default-constructed one's default). OmitEmpty: written
//     only when not empty (a string) or set (an optional); may be absent.
//     Derived: written, never read (a value computed from the others).
//  2. FieldDecoder stops at the first bad field, in the order Fields lists
//     them, with the JsonFields error naming it; status() holds it. Fields
//     nobody listed are left alone: the caller decides (requests reject
//     them with NoOtherFields, results ignore them).
//  3. Encoding never fails. Nothing here throws.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/control/json_fields.h"

namespace tessera {

using Json = nlohmann::json;

// How a scalar field's C++ type reads from and writes to JSON. Enums are
// specialized next to the op that uses them (ops.h).
template <typename T>
struct JsonValue {};

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
struct JsonValue<uint32_t> {
  static constexpr std::string_view kType = "integer";
  static Result<std::optional<uint32_t>> Read(JsonFields& f, std::string_view key) {
    std::optional<uint64_t> value = TRY(f.OptionalUnsigned(key));
    if (!value) return std::nullopt;
    if (*value > UINT32_MAX) return Err(Code::kInvalidArgument, "{}: {} {} too large", f.what(), key, *value);
    return static_cast<uint32_t>(*value);
  }
  static Json Write(uint32_t value) { return value; }
};

template <>
struct JsonValue<bool> {
  static constexpr std::string_view kType = "boolean";
  static Result<std::optional<bool>> Read(JsonFields& f, std::string_view key) { return f.OptionalBool(key); }
  static Json Write(bool value) { return value; }
};

// The name of a value type in decoding errors ("volume: missing field 'id'").
template <typename T>
inline constexpr std::string_view kJsonName = {};

template <typename T>
concept JsonScalar = requires { JsonValue<T>::kType; };
template <typename T>
concept JsonObject = !kJsonName<T>.empty();

template <typename T>
Json ToJsonByFields(const T& value);
template <JsonObject T>
Result<T> FromJson(const Json& json);

namespace json_visit {

template <typename T>
struct IsVector : std::false_type {};
template <typename T>
struct IsVector<std::vector<T>> : std::true_type {};
template <typename T>
struct IsScalarMap : std::false_type {};
template <JsonScalar V>
struct IsScalarMap<std::map<std::string, V>> : std::true_type {};

template <typename T>
Json Write(const T& value) {
  if constexpr (JsonScalar<T>) {
    return JsonValue<T>::Write(value);
  } else if constexpr (JsonObject<T>) {
    return ToJsonByFields(value);
  } else if constexpr (IsVector<T>::value) {
    Json array = Json::array();
    for (const auto& item : value) array.push_back(Write(item));
    return array;
  } else {
    static_assert(IsScalarMap<T>::value);
    Json object = Json::object();
    for (const auto& [k, v] : value) object[k] = Write(v);
    return object;
  }
}

// Reads field `key` into `out`; false when it is absent.
template <typename T>
Result<bool> Read(JsonFields& f, std::string_view key, T& out) {
  if constexpr (JsonScalar<T>) {
    std::optional<T> value = TRY(JsonValue<T>::Read(f, key));
    if (!value) return false;
    out = std::move(*value);
    return true;
  } else {
    if (!f.Has(key)) return false;
    if constexpr (JsonObject<T>) {
      out = TRY(FromJson<T>(*TRY(f.Object(key))));
    } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      out = TRY(f.Strings(key));
    } else if constexpr (IsVector<T>::value) {
      out.clear();
      for (const Json& item : *TRY(f.Array(key))) {
        out.push_back(TRY(FromJson<typename T::value_type>(item)));
      }
    } else {
      static_assert(IsScalarMap<T>::value);
      const Json* object = TRY(f.Object(key));
      JsonFields entries = TRY(JsonFields::Of(*object, fmt::format("{}: {}", f.what(), key)));
      for (const auto& [k, v] : object->items()) {
        out[k] = *TRY(JsonValue<typename T::mapped_type>::Read(entries, k));
      }
    }
    return true;
  }
}

}  // namespace json_visit

// Writes the fields of an object into a JSON object (contract 1).
class FieldEncoder {
 public:
  explicit FieldEncoder(Json& out) : out_(out) {}
  template <typename T>
  void Required(std::string_view key, const T& value) {
    out_[std::string(key)] = json_visit::Write(value);
  }
  template <typename T>
  void Optional(std::string_view key, const T& value) {
    Required(key, value);
  }
  template <typename T>
  void Derived(std::string_view key, const T& value) {
    Required(key, value);
  }
  void OmitEmpty(std::string_view key, const std::string& value) {
    if (!value.empty()) Required(key, value);
  }
  // A flag is sent only when set, so a request without it keeps the wire
  // form of servers that do not know it.
  void OmitEmpty(std::string_view key, bool value) {
    if (value) Required(key, value);
  }
  template <typename T>
  void OmitEmpty(std::string_view key, const std::optional<T>& value) {
    if (value) Required(key, *value);
  }

 private:
  Json& out_;
};

// Reads the fields of an object (contract 2).
class FieldDecoder {
 public:
  explicit FieldDecoder(JsonFields& fields) : fields_(fields) {}
  template <typename T>
  void Required(std::string_view key, T& value) {
    Read(key, value, /*required=*/true);
  }
  template <typename T>
  void Optional(std::string_view key, T& value) {
    Read(key, value, /*required=*/false);
  }
  template <typename T>
  void Derived(std::string_view, const T&) {}
  void OmitEmpty(std::string_view key, std::string& value) { Read(key, value, false); }
  void OmitEmpty(std::string_view key, bool& value) { Read(key, value, false); }
  template <typename T>
  void OmitEmpty(std::string_view key, std::optional<T>& value) {
    T read{};
    if (Read(key, read, false)) value = std::move(read);
  }
  const Status& status() const { return status_; }

 private:
  // True when the field was present and read.
  template <typename T>
  bool Read(std::string_view key, T& value, bool required) {
    if (!status_) return false;
    Result<bool> present = json_visit::Read(fields_, key, value);
    if (!present) {
      status_ = std::unexpected(present.error());
      return false;
    }
    if (!*present && required) status_ = fields_.Missing(key);
    return *present;
  }

  JsonFields& fields_;
  Status status_;
};

// Describes the fields of a request for the docs' op table (scalars only).
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
  void OmitEmpty(std::string_view key, bool) { Add(key, "boolean, optional, default `false`"); }
  template <typename T>
  void OmitEmpty(std::string_view key, const std::optional<T>&) {
    Add(key, fmt::format("{}, optional", JsonValue<T>::kType));
  }
  void Optional(std::string_view key, const std::map<std::string, std::string>&) {
    Add(key, "object of strings, optional, default `{}`");
  }
  // "none" for a type without fields.
  std::string Text() const { return text_.empty() ? "none" : text_; }

 private:
  void Add(std::string_view key, std::string_view type) {
    text_ += fmt::format("{}`{}` ({})", text_.empty() ? "" : ", ", key, type);
  }
  std::string text_;
};

// The JSON object of a value type. Fields takes its object by reference
// and the encoder only reads it, so a const value is safe to visit.
template <typename T>
Json ToJsonByFields(const T& value) {
  Json out = Json::object();
  FieldEncoder encoder(out);
  Fields(encoder, const_cast<T&>(value));
  return out;
}

// A value type from its JSON object, leniently: fields it does not list are
// ignored (a newer server may send more).
template <JsonObject T>
Result<T> FromJson(const Json& json) {
  JsonFields fields = TRY(JsonFields::Of(json, kJsonName<T>));
  T value{};
  FieldDecoder decoder(fields);
  Fields(decoder, value);
  TRY_STATUS(decoder.status());
  return value;
}

// A JSON array of value types ("volume list: expected an array").
template <JsonObject T>
Result<std::vector<T>> ListFromJson(const Json& json) {
  if (!json.is_array()) return Err(Code::kInvalidArgument, "{} list: expected an array", kJsonName<T>);
  std::vector<T> out;
  for (const Json& item : json) out.push_back(TRY(FromJson<T>(item)));
  return out;
}

// The JSON of a value type, or of an array of them.
template <JsonObject T>
Json ToJson(const T& value) {
  return ToJsonByFields(value);
}
template <JsonObject T>
Json ToJson(const std::vector<T>& values) {
  return json_visit::Write(values);
}

}  // namespace tessera
