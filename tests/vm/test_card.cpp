// SPDX-License-Identifier: MIT
//
// The test card (tests/kmod-card: ktlsaccel_test_card.ko), a pretend
// accelerator with a ring, a backlog, softirq completions and injectable
// errors, on its own, without ktlsaccel.ko: it must be a correct AEAD
// driver (NIST CAVP GCM and CCM, RFC 7539 ChaCha20-Poly1305 through AF_ALG
// by its driver names), carry kTLS byte-exact for every cipher, keep every
// record when its ring is tiny and kTLS has to backlog, hand its errors to
// kTLS and AF_ALG, and stay loaded while a tfm uses it. The engine's card
// backend is then tested against it, so a bug in the card must not hide
// one in the engine.

#include "control_util.h"
#include "ktls_util.h"
#include "module_util.h"
#include "vm.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <system_error>
#include <thread>

using namespace ktlsaccel::vmtest;
namespace fs = std::filesystem;

namespace {

const char *const card_module = "ktlsaccel_test_card";
const char *const card_gcm = "ktlsaccel-testcard-gcm-aes";
const char *const card_chacha = "ktlsaccel-testcard-rfc7539-chacha20-poly1305";
const char *const card_ccm = "ktlsaccel-testcard-ccm-aes";

const Cipher ciphers[] = {
	Cipher::aes_128_gcm,
	Cipher::aes_256_gcm,
	Cipher::aes_128_ccm,
	Cipher::chacha20_poly1305,
};

std::string card_driver(Cipher c)
{
	switch (c) {
	case Cipher::aes_128_gcm:
	case Cipher::aes_256_gcm: return card_gcm;
	case Cipher::chacha20_poly1305: return card_chacha;
	case Cipher::aes_128_ccm: return card_ccm;
	}
	return "?";
}

bool card_loaded()
{
	return fs::exists(fs::path("/sys/module") / card_module);
}

/* /proc/crypto's blocks that name @driver. */
std::vector<std::string> crypto_blocks(const std::string &driver)
{
	std::istringstream in(ktlsaccel::testsupport::read_file("/proc/crypto"));
	std::vector<std::string> out;
	std::string block, line;
	while (std::getline(in, line)) {
		if (!line.empty()) {
			block += line + "\n";
			continue;
		}
		if (block.find("driver       : " + driver + "\n") != std::string::npos)
			out.push_back(block);
		block.clear();
	}
	return out;
}

/* 6.12 runs the self-tests after insmod returned; they run through the ring. */
void wait_for_card_selftests()
{
	auto until = std::chrono::steady_clock::now() + std::chrono::seconds(300);
	for (;;) {
		bool done = true;
		for (const char *d : {card_gcm, card_chacha, card_ccm}) {
			bool passed = false;
			for (const auto &b : crypto_blocks(d)) {
				if (b.find("larval") != std::string::npos)
					done = false;
				else if (b.find("selftest     : passed") != std::string::npos)
					passed = true;
			}
			done = done && passed;
		}
		if (done)
			return;
		if (std::chrono::steady_clock::now() > until)
			throw std::runtime_error("the card's self-tests did not finish");
		std::this_thread::sleep_for(std::chrono::milliseconds(100));
	}
}

void load_card(const std::string &params = "")
{
	fs::path ko = module_path(card_module);
	int fd = ::open(ko.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		throw std::system_error(errno, std::system_category(), "open " + ko.string());
	long ret = ::syscall(SYS_finit_module, fd, params.c_str(), 0);
	int err = errno;
	::close(fd);
	if (ret != 0)
		throw std::system_error(err, std::system_category(), "insmod " + ko.string() + " " + params);
	wait_for_card_selftests();
}

/* 0, or the errno of one non-blocking delete_module (as rmmod). */
int try_unload_card()
{
	if (::syscall(SYS_delete_module, card_module, O_NONBLOCK) == 0)
		return 0;
	return errno;
}

/* Retries for 10 s while closing sockets still hold it. */
bool unload_card()
{
	for (int i = 0; i < 100 && card_loaded(); i++) {
		if (try_unload_card() == 0)
			return true;
		std::this_thread::sleep_for(std::chrono::milliseconds(100));
	}
	return !card_loaded();
}

void set_card_param(const std::string &name, const std::string &value)
{
	std::ofstream f(fs::path("/sys/module") / card_module / "parameters" / name);
	f << value;
	f.flush();
	if (!f)
		throw std::runtime_error("cannot set card parameter " + name + "=" + value);
}

const fs::path card_stats_file = "/sys/kernel/debug/ktlsaccel_test_card/stats";

/* The card's one line of counters. */
kv card_stats()
{
	std::istringstream in(ktlsaccel::testsupport::read_file(card_stats_file));
	kv m;
	std::string field;
	while (in >> field) {
		auto eq = field.find('=');
		if (eq != std::string::npos)
			m[field.substr(0, eq)] = field.substr(eq + 1);
	}
	for (const char *k : {"submitted", "completed", "errors", "backlogged", "rejected",
			      "in_flight", "max_in_flight", "bytes"})
		if (!m.count(k))
			throw std::runtime_error("card stats without " + std::string(k) + ": " +
						 ktlsaccel::testsupport::read_file(card_stats_file));
	return m;
}

void reset_card_stats()
{
	std::ofstream f(card_stats_file);
	f << "0\n";
	f.flush();
	if (!f)
		throw std::runtime_error("cannot reset the card's counters");
}

/* Waits (up to 60 s) until nothing is in the card's ring or backlog. */
kv card_idle()
{
	auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
	for (;;) {
		kv s = card_stats();
		if (num(s, "submitted") == num(s, "completed") && num(s, "in_flight") == 0)
			return s;
		if (std::chrono::steady_clock::now() > until) {
			ADD_FAILURE() << "the card did not drain: " << ktlsaccel::testsupport::read_file(card_stats_file);
			return s;
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
	}
}

/* Loads the card (and unloads it when destroyed), ktlsaccel.ko not loaded. */
class loaded_card {
public:
	explicit loaded_card(const std::string &params = "")
	{
		if (card_loaded() && !unload_card())
			throw std::runtime_error("a previous test left the card loaded");
		load_card(params);
	}
	~loaded_card()
	{
		if (!unload_card())
			ADD_FAILURE() << "the card could not be unloaded";
	}
	loaded_card(const loaded_card &) = delete;
	loaded_card &operator=(const loaded_card &) = delete;
};

struct counts {
	unsigned int pass = 0, fail = 0;
};

/*
 * NIST CAVP gcmEncryptExtIV/gcmDecrypt<bits>.rsp, 96-bit IVs, by @driver:
 * every fourth vector of each file (each costs a tfm of its own; the
 * module's own known-answer test, test_module_kat.cpp, runs all of them).
 */
counts gcm_vectors(const std::string &driver, const std::string &bits)
{
	counts n;
	unsigned int seen = 0;
	for (auto &v : read_vectors(vectors_dir() / "AES/GCM" / ("gcmEncryptExtIV" + bits + ".rsp"))) {
		if (v["IVLEN"] != "96" || seen++ % 4)
			continue;
		unsigned int taglen = std::stoul(v["TAGLEN"]) / 8;
		aead a(driver);
		EXPECT_EQ(a.setkey(from_hex(v["KEY"])), 0);
		bytes out, want = from_hex(v["CT"]), tag = from_hex(v["TAG"]);
		want.insert(want.end(), tag.begin(), tag.end());
		EXPECT_EQ(a.encrypt(from_hex(v["IV"]), from_hex(v["AAD"]), from_hex(v["PT"]), taglen, out), 0)
			<< driver << " encrypt " << bits << " count " << v["COUNT"];
		EXPECT_EQ(out, want) << driver << " encrypt " << bits << " count " << v["COUNT"];
		n.pass++;
	}
	for (auto &v : read_vectors(vectors_dir() / "AES/GCM" / ("gcmDecrypt" + bits + ".rsp"))) {
		if (v["IVLEN"] != "96" || seen++ % 4)
			continue;
		unsigned int taglen = std::stoul(v["TAGLEN"]) / 8;
		aead a(driver);
		EXPECT_EQ(a.setkey(from_hex(v["KEY"])), 0);
		bytes in = from_hex(v["CT"]), tag = from_hex(v["TAG"]), pt;
		in.insert(in.end(), tag.begin(), tag.end());
		int ret = a.decrypt(from_hex(v["IV"]), from_hex(v["AAD"]), in, taglen, pt);
		if (v.count("FAIL")) {
			EXPECT_EQ(ret, -EBADMSG) << driver << " decrypt " << bits << " count " << v["COUNT"];
			n.fail++;
		} else {
			EXPECT_EQ(ret, 0) << driver << " decrypt " << bits << " count " << v["COUNT"];
			EXPECT_EQ(pt, from_hex(v["PT"])) << driver << " decrypt " << bits << " count " << v["COUNT"];
			n.pass++;
		}
	}
	return n;
}

/* Both ChaCha20-Poly1305 files (RFC 7539 construction), both ways. */
counts chacha_vectors(const std::string &driver, const std::string &file)
{
	counts n;
	for (auto &v : read_vectors(vectors_dir() / "ChaCha20Poly1305" / file)) {
		bytes key = from_hex(v.count("KEY") ? v["KEY"] : "");
		bytes iv = from_hex(v.count("NONCE") ? v["NONCE"] : v["IV"]);
		bytes aad = from_hex(v.count("AD") ? v["AD"] : v["AAD"]);
		bytes pt = from_hex(v.count("IN") ? v["IN"] : v["PLAINTEXT"]);
		bytes ct = from_hex(v.count("CT") ? v["CT"] : v["CIPHERTEXT"]);
		bytes tag = from_hex(v["TAG"]);
		aead a(driver);
		EXPECT_EQ(a.setkey(key), 0);
		bytes ct_tag = ct, out;
		ct_tag.insert(ct_tag.end(), tag.begin(), tag.end());
		if (v.count("RESULT")) {
			EXPECT_EQ(a.decrypt(iv, aad, ct_tag, 16, out), -EBADMSG) << file << " count " << v["COUNT"];
			n.fail++;
			continue;
		}
		EXPECT_EQ(a.encrypt(iv, aad, pt, 16, out), 0);
		EXPECT_EQ(out, ct_tag) << driver << " " << file << " count " << v["COUNT"];
		EXPECT_EQ(a.decrypt(iv, aad, ct_tag, 16, out), 0);
		EXPECT_EQ(out, pt) << driver << " " << file << " count " << v["COUNT"];
		n.pass++;
	}
	return n;
}

/* NIST CAVP CCM DVPT<bits>.rsp: decrypt-verify, and the passes encrypted back. */
counts ccm_vectors(const std::string &driver, const std::string &bits)
{
	counts n;
	for (auto &v : read_vectors(vectors_dir() / "AES/CCM" / ("DVPT" + bits + ".rsp"))) {
		size_t alen = std::stoul(v["ALEN"]), plen = std::stoul(v["PLEN"]);
		unsigned int tlen = std::stoul(v["TLEN"]);
		bytes nonce = from_hex(v["NONCE"]);
		bytes iv(16, 0);
		iv[0] = static_cast<uint8_t>(14 - nonce.size());
		std::copy(nonce.begin(), nonce.end(), iv.begin() + 1);
		bytes aad = from_hex(v["ADATA"]);
		aad.resize(alen);
		bytes ct_tag = from_hex(v["CT"]), out;
		aead a(driver);
		EXPECT_EQ(a.setkey(from_hex(v["KEY"])), 0);
		int ret = a.decrypt(iv, aad, ct_tag, tlen, out);
		if (v["RESULT"] == "Fail") {
			EXPECT_EQ(ret, -EBADMSG) << driver << " " << bits << " count " << v["COUNT"];
			n.fail++;
			continue;
		}
		bytes pt = from_hex(v["PAYLOAD"]);
		pt.resize(plen);
		EXPECT_EQ(ret, 0) << driver << " " << bits << " count " << v["COUNT"];
		EXPECT_EQ(out, pt) << driver << " " << bits << " count " << v["COUNT"];
		EXPECT_EQ(a.encrypt(iv, aad, pt, tlen, out), 0);
		EXPECT_EQ(out, ct_tag) << driver << " " << bits << " count " << v["COUNT"];
		n.pass++;
	}
	return n;
}

/*
 * All three algorithms' vectors through the drivers @gcm, @chacha, @ccm;
 * returns the requests made and how many of them were forgeries.
 */
counts all_vectors(const std::string &gcm, const std::string &chacha, const std::string &ccm)
{
	counts g, c, m, total;
	for (const char *bits : {"128", "192", "256"}) {
		auto x = gcm_vectors(gcm, bits);
		g.pass += x.pass;
		g.fail += x.fail;
		auto y = ccm_vectors(ccm, bits);
		m.pass += y.pass;
		m.fail += y.fail;
	}
	for (const char *file : {"boringssl.txt", "openssl.txt"}) {
		auto x = chacha_vectors(chacha, file);
		c.pass += x.pass;
		c.fail += x.fail;
	}
	std::printf("%s: GCM %u + %u forged, ChaCha20-Poly1305 %u + %u forged, CCM %u + %u forged\n",
		    gcm.c_str(), g.pass, g.fail, c.pass, c.fail, m.pass, m.fail);
	EXPECT_GT(g.pass, 1500u);
	EXPECT_GT(g.fail, 100u);
	EXPECT_GE(c.pass, 70u);
	EXPECT_GE(c.fail, 1u);
	EXPECT_GT(m.pass, 100u);
	EXPECT_GT(m.fail, 100u);
	/* GCM: one request each; ChaCha20 and CCM passes: two (both ways). */
	total.pass = g.pass + 2 * c.pass + 2 * m.pass;
	total.fail = g.fail + c.fail + m.fail;
	return total;
}

/* Fixed key material: IV bytes 0x42, record sequence number 0. */
CryptoInfo crypto_info(Cipher c, uint16_t version)
{
	bytes key(key_size(c)), salt(salt_size(c), 0x5a);
	for (size_t i = 0; i < key.size(); i++)
		key[i] = static_cast<uint8_t>(i * 13 + 1);
	TlsVersion v = version == TLS_1_2_VERSION ? TlsVersion::tls12 : TlsVersion::tls13;
	return make_crypto_info(c, v, key, bytes(iv_size(c), 0x42), salt, 0);
}

void install(int sock, int dir, const CryptoInfo &info)
{
	if (int err = ktls_install(sock, dir, info))
		throw std::runtime_error(std::string("setsockopt(SOL_TLS): ") + strerror(err));
}

bytes pattern(size_t total)
{
	bytes data(total);
	for (size_t i = 0; i < total; i++)
		data[i] = static_cast<uint8_t>(i * 31 + (i >> 12));
	return data;
}

/*
 * @total bytes in @chunk-byte send()s from a kTLS TX socket to a kTLS RX
 * socket on one loopback connection; true if every byte arrived unchanged.
 */
bool ktls_roundtrip(Cipher c, uint16_t version, size_t total, size_t chunk)
{
	auto [a, b] = tcp_loopback_pair();
	CryptoInfo info = crypto_info(c, version);
	install(a.get(), TLS_TX, info);
	install(b.get(), TLS_RX, info);
	bytes data = pattern(total);
	int rx_errno = 0;
	bytes got;
	try {
		got = ktls_transfer(a.get(), b.get(), data, chunk, &rx_errno);
	} catch (const std::system_error &e) {
		ADD_FAILURE() << e.what();
		return false;
	}
	EXPECT_EQ(rx_errno, 0) << strerror(rx_errno);
	EXPECT_EQ(got.size(), total);
	return got == data;
}

/* kTLS records (at most 16 KiB of plaintext each) that @total bytes make. */
uint64_t min_records(size_t total)
{
	return (total + 16383) / 16384;
}

} // namespace

/* ---- The card alone (ktlsaccel.ko not loaded) ---- */

class CardAlone : public testing::Test {
protected:
	void SetUp() override
	{
		if (module_loaded()) {
			ASSERT_TRUE(unload_module()) << "ktlsaccel.ko is still loaded";
		}
	}
};

TEST_F(CardAlone, SelfTestsRanThroughTheRingAndTheDriversAreAsyncDriverOnly)
{
	loaded_card card;
	/* The kernel's self-tests (inauthentic inputs among them) used the ring. */
	kv s = card_idle();
	EXPECT_GT(num(s, "completed"), 0u);
	EXPECT_GT(num(s, "errors"), 0u);
	for (const char *d : {card_gcm, card_chacha, card_ccm}) {
		auto blocks = crypto_blocks(d);
		ASSERT_EQ(blocks.size(), 1u) << d;
		EXPECT_NE(blocks[0].find("priority     : 300\n"), std::string::npos) << blocks[0];
		EXPECT_NE(blocks[0].find("async        : yes\n"), std::string::npos) << blocks[0];
		EXPECT_NE(blocks[0].find("module       : ktlsaccel_test_card\n"), std::string::npos) << blocks[0];
	}
	/* Its parameters refuse what a card could not do. */
	EXPECT_THROW(set_card_param("depth", "0"), std::runtime_error);
	EXPECT_THROW(set_card_param("depth", "4097"), std::runtime_error);
	EXPECT_THROW(set_card_param("fail_errno", "22"), std::runtime_error);
	set_card_param("fail_errno", "5");
	set_card_param("fail_errno", "74");
	/* A reset zeroes the counters. */
	reset_card_stats();
	s = card_stats();
	EXPECT_EQ(num(s, "submitted"), 0u);
	EXPECT_EQ(num(s, "completed"), 0u);
	EXPECT_EQ(num(s, "bytes"), 0u);
}

TEST_F(CardAlone, NistAndRfc7539VectorsPassThroughTheCardsDriverNames)
{
	loaded_card card;
	reset_card_stats();
	counts n = all_vectors(card_gcm, card_chacha, card_ccm);
	kv s = card_idle();
	EXPECT_GE(num(s, "completed"), n.pass + n.fail);
	EXPECT_GE(num(s, "errors"), n.fail);
	EXPECT_EQ(num(s, "rejected"), 0u);
}

class CardAloneKtls : public testing::TestWithParam<std::tuple<int, uint16_t>> {
protected:
	void SetUp() override
	{
		if (module_loaded()) {
			ASSERT_TRUE(unload_module()) << "ktlsaccel.ko is still loaded";
		}
	}
};

TEST_P(CardAloneKtls, TransferIsByteExactThroughTheCard)
{
	const Cipher c = ciphers[std::get<0>(GetParam())];
	const uint16_t version = std::get<1>(GetParam());
	/* Above every CPU implementation, so kTLS picks it. */
	loaded_card card("priority=2000");
	reset_card_stats();
	constexpr size_t total = 1 << 20;
	EXPECT_TRUE(ktls_roundtrip(c, version, total, 64 << 10)) << to_string(c) << " " << version;
	kv s = card_idle();
	/* TX encrypted and RX decrypted every record on the card. */
	EXPECT_GE(num(s, "completed"), 2 * min_records(total));
	EXPECT_GE(num(s, "bytes"), 2 * total);
	EXPECT_EQ(num(s, "errors"), 0u);
	EXPECT_EQ(num(s, "rejected"), 0u);
	auto blocks = crypto_blocks(card_driver(c));
	ASSERT_EQ(blocks.size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(
	CipherAndVersion, CardAloneKtls,
	testing::Combine(testing::Range(0, 4), testing::Values(TLS_1_2_VERSION, TLS_1_3_VERSION)),
	[](const auto &info) {
		return to_string(ciphers[std::get<0>(info.param)]) + "_" +
		       (std::get<1>(info.param) == TLS_1_2_VERSION ? "tls12" : "tls13");
	});

TEST_F(CardAlone, TinyRingBacklogsKtlsRecordsAndLosesNone)
{
	loaded_card card("priority=2000 depth=2");
	for (uint16_t version : {TLS_1_2_VERSION, TLS_1_3_VERSION}) {
		reset_card_stats();
		constexpr size_t total = 2 << 20;
		/* One large send: kTLS TX submits records faster than two slots drain. */
		EXPECT_TRUE(ktls_roundtrip(Cipher::aes_128_gcm, version, total, total)) << version;
		kv s = card_idle();
		EXPECT_GT(num(s, "backlogged"), 0u) << version;
		EXPECT_LE(num(s, "max_in_flight"), 2u);
		EXPECT_EQ(num(s, "errors"), 0u);
		EXPECT_EQ(num(s, "rejected"), 0u);
		EXPECT_GE(num(s, "completed"), 2 * min_records(total));
	}
}

TEST_F(CardAlone, InjectedErrorsReachAfAlg)
{
	loaded_card card;
	bytes key(16, 0), iv(12, 0), pt(16, 0), out;
	aead a(card_gcm);
	ASSERT_EQ(a.setkey(key), 0);
	reset_card_stats();
	set_card_param("fail_next", "1");
	EXPECT_EQ(a.encrypt(iv, {}, pt, 16, out), -EBADMSG);
	set_card_param("fail_errno", "5");
	set_card_param("fail_next", "1");
	EXPECT_EQ(a.encrypt(iv, {}, pt, 16, out), -EIO);
	set_card_param("fail_errno", "74");
	/* Then the card works again: McGrew-Viega test case 2. */
	ASSERT_EQ(a.encrypt(iv, {}, pt, 16, out), 0);
	EXPECT_EQ(out, from_hex("0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf"));
	kv s = card_idle();
	EXPECT_EQ(num(s, "errors"), 2u);
	EXPECT_EQ(num(s, "completed"), 3u);
}

TEST_F(CardAlone, InjectedErrorsReachKtlsRxAndTx)
{
	loaded_card card("priority=2000");
	auto [a, b] = tcp_loopback_pair();
	CryptoInfo info = crypto_info(Cipher::aes_128_gcm, TLS_1_2_VERSION);
	install(a.get(), TLS_TX, info);
	install(b.get(), TLS_RX, info);
	bytes data = pattern(4096), buf(8192);
	/* RX: the record is encrypted cleanly, its decryption fails on the card. */
	ASSERT_EQ(send(a.get(), data.data(), data.size(), MSG_NOSIGNAL), static_cast<ssize_t>(data.size()));
	card_idle();
	set_card_param("fail_next", "1");
	ssize_t n = recv(b.get(), buf.data(), buf.size(), 0);
	int err = errno;
	EXPECT_EQ(n, -1);
	EXPECT_EQ(err, EBADMSG) << strerror(err);
	set_card_param("fail_next", "0");

	/* TX: a failed encryption fails the send (or the next one). */
	auto [c, d] = tcp_loopback_pair();
	install(c.get(), TLS_TX, info);
	set_card_param("fail_next", "1");
	int send_errno = 0;
	for (int i = 0; i < 20 && !send_errno; i++) {
		if (send(c.get(), data.data(), data.size(), MSG_NOSIGNAL) < 0)
			send_errno = errno;
		card_idle();
	}
	EXPECT_NE(send_errno, 0) << "no send failed after an injected encryption error";
	set_card_param("fail_next", "0");
	EXPECT_GE(num(card_stats(), "errors"), 2u);
}

TEST_F(CardAlone, UnloadIsRefusedWhileATfmExists)
{
	loaded_card card;
	{
		aead a(card_chacha);
		ASSERT_EQ(a.setkey(bytes(32, 1)), 0);
		int err = try_unload_card();
		EXPECT_TRUE(err == EWOULDBLOCK || err == EBUSY) << strerror(err);
		EXPECT_TRUE(card_loaded());
	}
	/* The tfm is gone: the destructor's unload must now succeed. */
}

/*
 * ---- The engine over the card (ktlsaccel.ko loaded after it, defaults) ----
 *
 * These need the engine's card backend (issue 18): backend auto picks the
 * card, each request goes to it with the engine's own callback, depth is the
 * credit at the card, and the uapi's BACKEND attributes are filled in.
 */

namespace {

const Cipher engine_ciphers[] = {
	Cipher::aes_128_gcm,
	Cipher::aes_256_gcm,
	Cipher::aes_128_ccm,
	Cipher::chacha20_poly1305,
};

const char *alg_of(Cipher c)
{
	switch (c) {
	case Cipher::aes_128_gcm:
	case Cipher::aes_256_gcm: return "gcm(aes)";
	case Cipher::chacha20_poly1305: return "rfc7539(chacha20,poly1305)";
	case Cipher::aes_128_ccm: return "ccm(aes)";
	}
	return "?";
}

ktlsaccel::control::client client()
{
	auto c = ktlsaccel::control::client::open();
	if (!c)
		throw std::runtime_error("control::client: " + ktlsaccel::control::describe(c.error()));
	return std::move(*c);
}

/* Both counters at zero: the engine's (netlink) and the card's (debugfs). */
void reset_both()
{
	auto r = client().reset_stats();
	if (!r)
		throw std::runtime_error("reset_stats: " + r.error().message());
	reset_card_stats();
}

ktlsaccel::control::stats engine_totals()
{
	auto d = client().get_device();
	if (!d)
		throw std::runtime_error("get_device: " + d.error().message());
	return d->stats;
}

/* Waits until the engine has nothing in flight (its completions follow the card's). */
ktlsaccel::control::stats engine_idle()
{
	auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
	for (;;) {
		auto s = engine_totals();
		if (s.in_flight == 0 && s.submitted == s.completed + s.errors)
			return s;
		if (std::chrono::steady_clock::now() > until) {
			ADD_FAILURE() << "the engine did not drain";
			return s;
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
	}
}

/* The live flows of @alg. */
std::vector<ktlsaccel::control::flow_info> flows_of_alg(const std::string &alg)
{
	auto f = client().dump_flows();
	if (!f)
		throw std::runtime_error("dump_flows: " + f.error().message());
	std::vector<ktlsaccel::control::flow_info> out;
	for (auto &x : *f)
		if (x.alg == alg)
			out.push_back(x);
	return out;
}

std::string backend_driver_of(const std::string &alg)
{
	auto d = client().get_device();
	if (!d)
		throw std::runtime_error("get_device: " + d.error().message());
	for (const auto &b : d->backends)
		if (b.alg == alg)
			return b.driver;
	throw std::runtime_error("DEV_GET has no backend for " + alg);
}

/*
 * A kTLS pair with @c installed both ways, and a transfer of @total bytes in
 * @chunk-byte sends; @during runs while both sockets (and so their flows)
 * still exist.
 */
template <class F>
bool ktls_pair_transfer(Cipher c, uint16_t version, size_t total, size_t chunk, F during)
{
	auto [a, b] = tcp_loopback_pair();
	CryptoInfo info = crypto_info(c, version);
	install(a.get(), TLS_TX, info);
	install(b.get(), TLS_RX, info);
	bytes data = pattern(total);
	int rx_errno = 0;
	bytes got;
	try {
		got = ktls_transfer(a.get(), b.get(), data, chunk, &rx_errno);
	} catch (const std::system_error &e) {
		ADD_FAILURE() << e.what();
		return false;
	}
	EXPECT_EQ(rx_errno, 0) << strerror(rx_errno);
	EXPECT_EQ(got.size(), total);
	during();
	return got == data;
}

class both_loaded {
public:
	explicit both_loaded(const std::string &card_params = "", const std::string &module_params = "")
		: card_(card_params), module_(module_params)
	{
	}

private:
	/* Declared in load order: the module goes first on the way out. */
	loaded_card card_;
	loaded_module module_;
};

} // namespace

class CardEngineKtls : public testing::TestWithParam<std::tuple<int, uint16_t>> {
protected:
	void SetUp() override
	{
		if (module_loaded()) {
			ASSERT_TRUE(unload_module());
		}
	}
};

TEST_P(CardEngineKtls, ByteExactThroughEngineAndCardWhoseCountersAgree)
{
	const Cipher c = engine_ciphers[std::get<0>(GetParam())];
	const uint16_t version = std::get<1>(GetParam());
	both_loaded both;
	EXPECT_EQ(backend_driver_of(alg_of(c)), card_driver(c)) << "backend auto must pick the card";
	reset_both();
	constexpr size_t total = 1 << 20;
	EXPECT_TRUE(ktls_pair_transfer(c, version, total, 64 << 10, [&] {
		auto flows = flows_of_alg(alg_of(c));
		EXPECT_GE(flows.size(), 2u);
		for (const auto &f : flows)
			EXPECT_EQ(f.backend, card_driver(c)) << "flow " << f.id;
		/* What `ktlsaccel flows` shows people. */
		EXPECT_NE(check_output(cli() + " flows").find(card_driver(c)), std::string::npos);
	}));
	kv card = card_idle();
	auto eng = engine_idle();
	EXPECT_GE(num(card, "completed"), 2 * min_records(total));
	EXPECT_EQ(num(card, "submitted"), eng.submitted) << "every engine request went to the card";
	EXPECT_EQ(num(card, "completed"), eng.completed + eng.errors);
	EXPECT_EQ(num(card, "errors"), eng.errors);
	EXPECT_EQ(eng.errors, 0u);
}

INSTANTIATE_TEST_SUITE_P(
	CipherAndVersion, CardEngineKtls,
	testing::Combine(testing::Range(0, 4), testing::Values(TLS_1_2_VERSION, TLS_1_3_VERSION)),
	[](const auto &info) {
		return to_string(engine_ciphers[std::get<0>(info.param)]) + "_" +
		       (std::get<1>(info.param) == TLS_1_2_VERSION ? "tls12" : "tls13");
	});

class CardEngine : public testing::Test {
protected:
	void SetUp() override
	{
		if (module_loaded()) {
			ASSERT_TRUE(unload_module());
		}
	}
};

TEST_F(CardEngine, OneConnectionKeepsManyRecordsInFlightAtTheCard)
{
	/* A slow card: records of one large send pile up in its ring. */
	both_loaded both("latency_us=2000");
	reset_both();
	constexpr size_t total = 4 << 20;
	EXPECT_TRUE(ktls_pair_transfer(Cipher::aes_128_gcm, TLS_1_2_VERSION, total, total, [&] {
		uint32_t tx_max = 0;
		for (const auto &f : flows_of_alg("gcm(aes)"))
			if (f.direction == ktlsaccel::control::flow_direction::tx)
				tx_max = std::max(tx_max, f.stats.max_in_flight);
		EXPECT_GT(tx_max, 1u) << "the TX flow never had two records in flight";
	}));
	kv card = card_idle();
	EXPECT_GT(num(card, "max_in_flight"), 1u);
}

TEST_F(CardEngine, SmallCardRingUnderTheEngineLosesNothing)
{
	both_loaded both("depth=2");
	for (uint16_t version : {TLS_1_2_VERSION, TLS_1_3_VERSION}) {
		reset_both();
		constexpr size_t total = 2 << 20;
		EXPECT_TRUE(ktls_roundtrip(Cipher::aes_128_gcm, version, total, total)) << version;
		kv card = card_idle();
		auto eng = engine_idle();
		EXPECT_LE(num(card, "max_in_flight"), 2u);
		EXPECT_EQ(num(card, "errors"), 0u);
		EXPECT_EQ(num(card, "rejected"), 0u) << "the engine must backlog or hold, not lose";
		EXPECT_EQ(eng.errors, 0u);
		EXPECT_GE(num(card, "completed"), 2 * min_records(total));
	}
}

TEST_F(CardEngine, CardErrorsReachKtls)
{
	both_loaded both;
	auto [a, b] = tcp_loopback_pair();
	CryptoInfo info = crypto_info(Cipher::aes_128_gcm, TLS_1_2_VERSION);
	install(a.get(), TLS_TX, info);
	install(b.get(), TLS_RX, info);
	bytes data = pattern(4096), buf(8192);
	ASSERT_EQ(send(a.get(), data.data(), data.size(), MSG_NOSIGNAL), static_cast<ssize_t>(data.size()));
	card_idle();
	engine_idle();
	set_card_param("fail_next", "1");
	ssize_t n = recv(b.get(), buf.data(), buf.size(), 0);
	int err = errno;
	set_card_param("fail_next", "0");
	EXPECT_EQ(n, -1);
	EXPECT_EQ(err, EBADMSG) << strerror(err);
	EXPECT_GE(engine_idle().errors, 1u);
}

TEST_F(CardEngine, NistVectorsByOurDriverNameWithTheCardAsBackend)
{
	both_loaded both;
	reset_both();
	counts n = all_vectors("ktlsaccel-gcm-aes", "ktlsaccel-rfc7539-chacha20-poly1305",
			       "ktlsaccel-ccm-aes");
	kv card = card_idle();
	auto eng = engine_idle();
	EXPECT_GE(num(card, "completed"), n.pass + n.fail);
	EXPECT_GE(num(card, "errors"), n.fail);
	EXPECT_EQ(num(card, "submitted"), eng.submitted);
}

TEST_F(CardEngine, BackendCpuMakesNewTfmsSkipTheCard)
{
	both_loaded both;
	ktlsaccel::control::config_change change;
	for (const char *alg : {"gcm(aes)", "rfc7539(chacha20,poly1305)", "ccm(aes)"})
		change.backends.push_back({alg, ktlsaccel::control::backend_mode::cpu, ""});
	auto r = client().set_config(change);
	ASSERT_TRUE(r) << r.error().message();
	auto d = client().get_device();
	ASSERT_TRUE(d);
	ASSERT_EQ(d->backends.size(), 3u);
	for (const auto &b : d->backends) {
		EXPECT_EQ(b.mode, ktlsaccel::control::backend_mode::cpu) << b.alg;
		EXPECT_EQ(b.driver, "") << b.alg;
	}
	reset_both();
	EXPECT_TRUE(ktls_pair_transfer(Cipher::aes_128_gcm, TLS_1_2_VERSION, 256 << 10, 64 << 10, [&] {
		for (const auto &f : flows_of_alg("gcm(aes)"))
			EXPECT_EQ(f.backend, "cpu");
	}));
	bytes out;
	aead a("ktlsaccel-ccm-aes");
	ASSERT_EQ(a.setkey(bytes(16, 7)), 0);
	EXPECT_EQ(a.encrypt(bytes(16, 2), {}, bytes(64, 1), 16, out), 0);
	kv card = card_stats();
	EXPECT_EQ(num(card, "submitted"), 0u) << "the card's counters moved";
	EXPECT_GT(engine_idle().completed, 0u);
	/* And back to auto: new tfms go to the card again. */
	for (auto &b : change.backends)
		b.mode = ktlsaccel::control::backend_mode::auto_;
	ASSERT_TRUE(client().set_config(change));
	EXPECT_EQ(backend_driver_of("gcm(aes)"), card_gcm);
}

TEST_F(CardEngine, BackendByDriverNameAndBadNamesAreRefused)
{
	both_loaded both;
	ktlsaccel::control::config_change change;
	change.backends.push_back({"gcm(aes)", ktlsaccel::control::backend_mode::driver, card_gcm});
	ASSERT_TRUE(client().set_config(change));
	EXPECT_EQ(backend_driver_of("gcm(aes)"), card_gcm);
	change.backends[0].driver = "no-such-driver";
	auto c = client();
	auto r = c.set_config(change);
	ASSERT_FALSE(r);
	EXPECT_EQ(r.error(), std::errc::no_such_file_or_directory)
		<< ktlsaccel::control::describe(r.error(), c.extack());
	/* Through the CLI: a bad algorithm never reaches the kernel. */
	auto bad = run(cli() + " set backend aes cpu 2>&1");
	EXPECT_EQ(bad.status, 1) << bad.output;
	EXPECT_NE(bad.output.find("invalid value 'aes' for 'backend'"), std::string::npos) << bad.output;
	auto ok = run(cli() + " set backend 'gcm(aes)' cpu 2>&1");
	EXPECT_EQ(ok.status, 0) << ok.output;
	EXPECT_EQ(backend_driver_of("gcm(aes)"), "");
	auto shown = check_output(cli() + " show");
	EXPECT_NE(shown.find("backend alg gcm(aes) mode cpu"), std::string::npos) << shown;
}

TEST_F(CardEngine, UnloadInEitherOrderIsRefusedWhileHeldAndCleanAfter)
{
	for (bool card_first : {true, false}) {
		load_card();
		ktlsaccel::testsupport::load_module(module_path());
		{
			aead a("ktlsaccel-gcm-aes");
			ASSERT_EQ(a.setkey(bytes(16, 3)), 0);
			bytes out;
			ASSERT_EQ(a.encrypt(bytes(12, 0), {}, bytes(32, 0), 16, out), 0);
			/* The engine's tfm holds the card's. */
			int err = try_unload_card();
			EXPECT_TRUE(err == EWOULDBLOCK || err == EBUSY) << strerror(err);
			EXPECT_TRUE(card_loaded());
		}
		if (card_first) {
			/* No tfm left: the card may go; the engine falls back to the CPU. */
			EXPECT_TRUE(unload_card());
			EXPECT_EQ(backend_driver_of("gcm(aes)"), "");
			aead a("ktlsaccel-gcm-aes");
			ASSERT_EQ(a.setkey(bytes(16, 0)), 0);
			bytes out;
			ASSERT_EQ(a.encrypt(bytes(12, 0), {}, bytes(16, 0), 16, out), 0);
			EXPECT_EQ(out, from_hex("0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf"));
		}
		EXPECT_TRUE(unload_module());
		EXPECT_TRUE(unload_card());
	}
}

TEST_F(CardEngine, ModelAndFaultsWorkOnTopOfTheCard)
{
	both_loaded both;
	ktlsaccel::control::config_change model;
	model.latency_us = 500;
	ASSERT_TRUE(client().set_config(model));
	reset_both();
	EXPECT_TRUE(ktls_roundtrip(Cipher::aes_128_gcm, TLS_1_2_VERSION, 256 << 10, 64 << 10));
	kv card = card_idle();
	auto eng = engine_idle();
	EXPECT_GT(num(card, "completed"), 0u);
	/* Every request waited at least the modelled 500 us: nothing below bucket 8 (256 us). */
	uint64_t fast = 0;
	for (size_t i = 0; i < 8; i++)
		fast += eng.latency[i];
	EXPECT_EQ(fast, 0u);
	EXPECT_GT(eng.latency_samples(), 0u);

	model.latency_us = 0;
	ASSERT_TRUE(client().set_config(model));
	ktlsaccel::control::fault_change fault;
	fault.rate = 1000000;
	fault.error = EIO;
	fault.ops = ktlsaccel::control::fault_ops::encrypt;
	ASSERT_TRUE(client().set_fault(fault));
	aead a("ktlsaccel-gcm-aes");
	ASSERT_EQ(a.setkey(bytes(16, 0)), 0);
	bytes out;
	EXPECT_EQ(a.encrypt(bytes(12, 0), {}, bytes(16, 0), 16, out), -EIO);
	ASSERT_TRUE(client().clear_fault());
	EXPECT_EQ(a.encrypt(bytes(12, 0), {}, bytes(16, 0), 16, out), 0);
	EXPECT_EQ(out, from_hex("0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf"));
	EXPECT_GT(engine_idle().faults, 0u);
}

TEST_F(CardEngine, CardLoadedAfterTheModuleTakesNewTfms)
{
	if (card_loaded()) {
		ASSERT_TRUE(unload_card());
	}
	loaded_module mod;
	EXPECT_EQ(backend_driver_of("gcm(aes)"), "") << "no card yet: the CPU";
	{
		loaded_card card;
		EXPECT_EQ(backend_driver_of("gcm(aes)"), card_gcm) << "auto re-resolved";
		reset_card_stats();
		aead a("ktlsaccel-gcm-aes");
		ASSERT_EQ(a.setkey(bytes(16, 0)), 0);
		bytes out;
		ASSERT_EQ(a.encrypt(bytes(12, 0), {}, bytes(16, 0), 16, out), 0);
		EXPECT_EQ(out, from_hex("0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf"));
		EXPECT_GE(num(card_idle(), "completed"), 1u);
	}
}
