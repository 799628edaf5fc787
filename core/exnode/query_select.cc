// Resource selection: Select() and its failure diagnosis.
//
// Design notes
//  1. Candidates are visited in rotated order: index (i + rotation) % n for
//     i = 0..n-1. Every later step keeps that order, so the answer depends
//     only on (query, candidates, count, rotation).
//  2. Eligible = matches the boolean query AND carries every constrained
//     attribute (a resource without the attribute cannot prove it differs
//     from, or equals, the others).
//  3. Pick-one keys partition the eligible set into groups by their values;
//     groups are tried in order of their first member. Without pick-one keys
//     there is one group.
//  4. Within a group, unique keys are met by depth-first search in rotated
//     order. With one unique key the first descent is the greedy choice and
//     is optimal; with several (a set-packing problem) the search is bounded
//     by kSearchBudget steps. A cheap necessary check (enough distinct
//     values per key) runs first so hopeless groups cost nothing.
//  5. On failure the message names the culprit: the lowest term on the AND
//     spine of the query that matches fewer than `count` resources, else the
//     attribute missing for a constraint, else the constraint itself.
#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/exnode/query.h"
#include "core/exnode/query_internal.h"

namespace tessera {
namespace {

constexpr size_t kSearchBudget = 200000;

using query_internal::DescribeTerm;

std::string_view KindFlag(ConstraintKind kind) {
  return kind == ConstraintKind::kUnique ? "unique (64)" : "pick-one (128)";
}

// Finds `count` members of `group` with pairwise different values for every
// unique key. values[m][u] is member m's value of unique key u.
class UniquePicker {
 public:
  UniquePicker(const std::vector<std::vector<std::string_view>>& values, size_t keys, size_t count)
      : values_(values), used_(keys), count_(count) {}

  bool Search(size_t start) {
    if (chosen_.size() == count_) return true;
    for (size_t m = start; m + (count_ - chosen_.size()) <= values_.size(); ++m) {
      if (++steps_ > kSearchBudget) return false;
      bool fresh = true;
      for (size_t u = 0; u < used_.size() && fresh; ++u) fresh = !used_[u].contains(values_[m][u]);
      if (!fresh) continue;
      for (size_t u = 0; u < used_.size(); ++u) used_[u].insert(values_[m][u]);
      chosen_.push_back(m);
      if (Search(m + 1)) return true;
      chosen_.pop_back();
      for (size_t u = 0; u < used_.size(); ++u) used_[u].erase(values_[m][u]);
    }
    return false;
  }
  const std::vector<size_t>& chosen() const { return chosen_; }
  bool exhausted() const { return steps_ > kSearchBudget; }

 private:
  const std::vector<std::vector<std::string_view>>& values_;
  std::vector<std::set<std::string_view>> used_;
  std::vector<size_t> chosen_;
  size_t count_;
  size_t steps_ = 0;
};

// Why fewer than `count` candidates match the boolean query.
Error DiagnoseQuery(const Query& q, const std::vector<std::vector<char>>& values, size_t count) {
  auto matching = [&](size_t t) {
    size_t k = 0;
    for (const auto& v : values) k += v[t] != 0;
    return k;
  };
  size_t t = q.terms.size() - 1;
  while (q.terms[t].op == QueryOp::kAnd) {
    auto ops = q.terms[t].operands;
    auto weak = std::find_if(ops.begin(), ops.end(), [&](size_t o) { return matching(o) < count; });
    if (weak == ops.end()) break;
    t = *weak;
  }
  const size_t k = matching(t);
  if (k == 0) return Error(Code::kNoSpace, DescribeTerm(q, t) + " matched no resource");
  return Error(Code::kNoSpace, fmt::format("{} matched only {} of {} resources, need {}",
                                           DescribeTerm(q, t), k, values.size(), count));
}

std::string KeysOf(const Query& q, std::span<const size_t> constraint_indices) {
  std::string out;
  for (size_t c : constraint_indices) {
    out += fmt::format("{}'{}' (term {})", out.empty() ? "" : ", ", q.constraints[c].key,
                       q.constraints[c].term + 1);
  }
  return out;
}

}  // namespace

Result<std::vector<size_t>> Select(const Query& q, std::span<const Resource> candidates,
                                   size_t count, uint64_t rotation) {
  if (q.terms.empty()) return Err(Code::kInvalidArgument, "Select: query has no terms");
  if (count == 0) return std::vector<size_t>{};
  const size_t n = candidates.size();
  if (count > n) {
    return Err(Code::kNoSpace, "query needs {} resources but only {} candidates exist", count, n);
  }
  std::vector<std::vector<char>> values(n);
  std::vector<size_t> matched;  // candidate indices, rotated order
  for (size_t i = 0; i < n; ++i) {
    const size_t c = (i + rotation % n) % n;
    values[c] = query_internal::EvaluateTerms(q, candidates[c]);
  }
  for (size_t i = 0; i < n; ++i) {
    const size_t c = (i + rotation % n) % n;
    if (values[c].back()) matched.push_back(c);
  }
  if (matched.size() < count) return std::unexpected(DiagnoseQuery(q, values, count));

  auto has_all = [&](size_t c) {
    return std::all_of(q.constraints.begin(), q.constraints.end(), [&](const auto& k) {
      return candidates[c].attrs.contains(k.key);
    });
  };
  std::vector<size_t> eligible;
  std::copy_if(matched.begin(), matched.end(), std::back_inserter(eligible), has_all);
  if (eligible.size() < count) {
    for (const auto& k : q.constraints) {
      size_t have = std::count_if(matched.begin(), matched.end(),
                                  [&](size_t c) { return candidates[c].attrs.contains(k.key); });
      if (have >= count) continue;
      return Err(Code::kNoSpace,
                 "{} resources match the query but only {} have attribute '{}', needed by the "
                 "{} flag of term {}; need {}",
                 matched.size(), have, k.key, KindFlag(k.kind), k.term + 1, count);
    }
    std::vector<size_t> all_keys(q.constraints.size());
    for (size_t k = 0; k < all_keys.size(); ++k) all_keys[k] = k;
    return Err(Code::kNoSpace,
               "only {} matching resources carry every constrained attribute ({}); need {}",
               eligible.size(), KeysOf(q, all_keys), count);
  }

  std::vector<size_t> unique_keys, pick_keys;  // indices into q.constraints
  for (size_t k = 0; k < q.constraints.size(); ++k) {
    (q.constraints[k].kind == ConstraintKind::kUnique ? unique_keys : pick_keys).push_back(k);
  }
  auto attr = [&](size_t c, size_t k) -> std::string_view {
    return candidates[c].attrs.at(q.constraints[k].key);
  };
  // Groups of eligible candidates sharing all pick-one values, in first-seen order.
  std::map<std::vector<std::string_view>, size_t> group_of;
  std::vector<std::vector<size_t>> groups;
  for (size_t c : eligible) {
    std::vector<std::string_view> key;
    for (size_t k : pick_keys) key.push_back(attr(c, k));
    auto [it, inserted] = group_of.emplace(std::move(key), groups.size());
    if (inserted) groups.emplace_back();
    groups[it->second].push_back(c);
  }
  size_t largest = 0, short_unique = unique_keys.size(), short_distinct = 0;
  bool exhausted = false;
  for (const auto& group : groups) {
    largest = std::max(largest, group.size());
    if (group.size() < count) continue;
    std::vector<std::vector<std::string_view>> uvals;
    for (size_t c : group) {
      uvals.emplace_back();
      for (size_t k : unique_keys) uvals.back().push_back(attr(c, k));
    }
    bool possible = true;
    for (size_t u = 0; u < unique_keys.size() && possible; ++u) {
      std::set<std::string_view> distinct;
      for (const auto& v : uvals) distinct.insert(v[u]);
      if (distinct.size() < count) {
        possible = false;
        if (short_unique == unique_keys.size() || distinct.size() > short_distinct) {
          short_unique = u;
          short_distinct = distinct.size();
        }
      }
    }
    if (!possible) continue;
    UniquePicker picker(uvals, unique_keys.size(), count);
    if (picker.Search(0)) {
      std::vector<size_t> out;
      for (size_t m : picker.chosen()) out.push_back(group[m]);
      return out;
    }
    exhausted = exhausted || picker.exhausted();
  }

  if (largest < count) {
    std::string example;
    for (const auto& [key, index] : group_of) {
      if (groups[index].size() != largest) continue;
      for (auto v : key) example += fmt::format("{}'{}'", example.empty() ? "" : ",", v);
      break;
    }
    return Err(Code::kNoSpace,
               "pick-one constraint on {}: no single value is shared by {} matching resources "
               "(largest group: {} with {})",
               KeysOf(q, pick_keys), count, example, largest);
  }
  const std::string in_group =
      pick_keys.empty() ? "" : " in any group sharing one value of " + KeysOf(q, pick_keys);
  if (short_unique < unique_keys.size()) {
    const auto& k = q.constraints[unique_keys[short_unique]];
    return Err(Code::kNoSpace,
               "unique constraint on '{}' (term {}) needs {} distinct values, only {} match{}",
               k.key, k.term + 1, count, short_distinct, in_group);
  }
  return Err(Code::kNoSpace,
             "unique constraints on {} cannot all be met by {} of {} matching resources{}{}",
             KeysOf(q, unique_keys), count, eligible.size(), in_group,
             exhausted ? fmt::format(" (search gave up after {} steps)", kSearchBudget) : "");
}

}  // namespace tessera
