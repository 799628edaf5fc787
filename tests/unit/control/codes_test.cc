#include "core/control/codes.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace tessera {
namespace {

constexpr Code kAllCodes[] = {Code::kNotFound, Code::kCorruption,      Code::kIOError,
                              Code::kNoSpace,  Code::kInvalidArgument, Code::kBusy,
                              Code::kReadOnly};

TEST(Codes, ErrnoForEveryCode) {
  EXPECT_EQ(ErrnoFromCode(Code::kInvalidArgument), EINVAL);
  EXPECT_EQ(ErrnoFromCode(Code::kNoSpace), ENOSPC);
  EXPECT_EQ(ErrnoFromCode(Code::kReadOnly), EROFS);
  EXPECT_EQ(ErrnoFromCode(Code::kNotFound), ENOENT);
  EXPECT_EQ(ErrnoFromCode(Code::kBusy), EBUSY);
  EXPECT_EQ(ErrnoFromCode(Code::kCorruption), EIO);
  EXPECT_EQ(ErrnoFromCode(Code::kIOError), EIO);
}

TEST(Codes, NameRoundTripsAndRejectsOthers) {
  for (Code code : kAllCodes) {
    auto back = CodeFromName(CodeName(code));
    ASSERT_TRUE(back.has_value()) << CodeName(code);
    EXPECT_EQ(*back, code);
  }
  EXPECT_FALSE(CodeFromName(""));
  EXPECT_FALSE(CodeFromName("notfound"));
  EXPECT_FALSE(CodeFromName("Unknown"));
  EXPECT_FALSE(CodeFromName("NotFound "));
}

}  // namespace
}  // namespace tessera
