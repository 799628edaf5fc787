// Block capabilities (core/pool/address.h): a data block's address in an
// exNode, after its remote vdev's URI.
#include <gtest/gtest.h>

#include "core/pool/address.h"

namespace tessera {
namespace {

TEST(BlockCapability, IsTheAddressAloneForALocalVdev) {
  DiskAddress a = DiskAddress::Make(Tier::kSlow, 3, 12345);
  EXPECT_EQ(BlockCapability("", a), a.ToString());
  EXPECT_EQ(ParseBlockCapability(a.ToString()), a);
}

TEST(BlockCapability, NamesARemoteVdevsUriAndReadsBackItsAddress) {
  DiskAddress a = DiskAddress::Make(Tier::kFastest, 0, 7);
  for (std::string uri : {"nbd://depot1:10809/tessera", "nbd+unix:///e?socket=/run/d#0.sock",
                          "rados://tessera/d0", "nbds://h/e?tls-psk-file=/k.psk"}) {
    std::string cap = BlockCapability(uri, a);
    EXPECT_EQ(cap, uri + "#" + a.ToString());
    EXPECT_EQ(ParseBlockCapability(cap), a) << cap;
  }
}

TEST(BlockCapability, RefusesWhatHoldsNoAddress) {
  for (std::string cap :
       {"", "#", "nbd://h/e", "nbd://h/e#", "nbd://h/e#not-an-address", "slow:0:1#"}) {
    EXPECT_FALSE(ParseBlockCapability(cap)) << cap;
  }
}

}  // namespace
}  // namespace tessera
