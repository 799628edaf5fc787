// PagePool (core/util/page_pool.h): aligned pages from slabs, fullest slab
// first, and a slab freed once all its pages are back.
#include "core/util/page_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <vector>

namespace tessera {
namespace {

TEST(PagePool, PagesAreAlignedDistinctAndSlabsGoBackWhenEmpty) {
  PagePool pool;
  std::vector<std::byte*> pages;
  for (size_t i = 0; i < 3 * PagePool::kPagesPerSlab + 5; i++) {
    std::byte* page = pool.Allocate();
    ASSERT_EQ(reinterpret_cast<uintptr_t>(page) % PagePool::kPageBytes, 0u);
    std::fill_n(page, PagePool::kPageBytes, std::byte{static_cast<uint8_t>(i)});
    pages.push_back(page);
  }
  EXPECT_EQ(std::set<std::byte*>(pages.begin(), pages.end()).size(), pages.size());
  EXPECT_EQ(pool.slab_bytes(), 4 * PagePool::kSlabBytes);
  for (size_t i = 0; i < pages.size(); i++) {  // nothing overlapped
    ASSERT_EQ(pages[i][0], std::byte{static_cast<uint8_t>(i)});
    ASSERT_EQ(pages[i][PagePool::kPageBytes - 1], std::byte{static_cast<uint8_t>(i)});
  }
  std::shuffle(pages.begin(), pages.end(), std::mt19937_64(3));
  for (std::byte* page : pages) pool.Release(page);
  EXPECT_EQ(pool.slab_bytes(), 0u);
}

TEST(PagePool, NewPagesComeFromTheFullestSlab) {
  PagePool pool;
  std::vector<std::byte*> pages;
  for (size_t i = 0; i < 2 * PagePool::kPagesPerSlab; i++) pages.push_back(pool.Allocate());
  // Give back most of one slab and one page of the other: the next pages
  // fill the other slab's hole first, so no third slab is made.
  for (size_t i = 0; i < PagePool::kPagesPerSlab - 1; i++) pool.Release(pages[i]);
  pool.Release(pages[PagePool::kPagesPerSlab]);
  std::byte* again = pool.Allocate();
  EXPECT_EQ(again, pages[PagePool::kPagesPerSlab]);
  EXPECT_EQ(pool.slab_bytes(), 2 * PagePool::kSlabBytes);
  pool.Release(again);
  pool.Release(pages[PagePool::kPagesPerSlab - 1]);
  for (size_t i = PagePool::kPagesPerSlab + 1; i < pages.size(); i++) pool.Release(pages[i]);
  EXPECT_EQ(pool.slab_bytes(), 0u);
}

}  // namespace
}  // namespace tessera
