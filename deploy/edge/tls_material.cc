#include "deploy/edge/tls_material.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "deploy/edge/private_files.h"

namespace tempa::deploy {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free_all(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Free>;
using X509Ptr = std::unique_ptr<X509, Free>;
using BioPtr = std::unique_ptr<BIO, Free>;

constexpr int64_t kCaDays = 3650;
constexpr int64_t kServerDays = 365;
constexpr int64_t kRenewBeforeDays = 30;

// The OpenSSL error queue as text, emptied.
std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no detail from OpenSSL" : out;
}

absl::Status SslError(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", OpenSslErrors()));
}

absl::StatusOr<std::string> PemOf(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return SslError("encode private key");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

absl::StatusOr<std::string> PemOf(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return SslError("encode certificate");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

absl::StatusOr<PkeyPtr> ParseKey(const std::string& pem, const std::string& path,
                                 const std::string& fix) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " holds no PEM private key (", OpenSslErrors(), "); ", fix));
  }
  return key;
}

// Every certificate of a PEM file, in order.
absl::StatusOr<std::vector<X509Ptr>> ParseCerts(const std::string& pem, const std::string& path,
                                                const std::string& fix) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::vector<X509Ptr> certs;
  while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) certs.emplace_back(c);
  ERR_clear_error();  // the end of the file reads as an error
  if (certs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " holds no PEM certificate; ", fix));
  }
  return certs;
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, Free> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return SslError(absl::StrCat("add certificate extension ", OBJ_nid2sn(nid), "=", value));
  }
  return absl::OkStatus();
}

// A certificate for `subject_cn` with `key`, signed by `issuer_key` (issuer == nullptr: itself).
absl::StatusOr<X509Ptr> MakeCert(EVP_PKEY* key, const std::string& subject_cn, X509* issuer,
                                 EVP_PKEY* issuer_key, int64_t days, bool is_ca,
                                 const std::string& san, absl::Time now) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) return SslError("new X509");
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return SslError("random serial");
  serial[0] &= 0x7f;  // positive
  std::unique_ptr<BIGNUM, Free> bn(BN_bin2bn(serial, sizeof serial, nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())))
    return SslError("set serial");
  time_t t = absl::ToTimeT(now);
  if (!X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, -3600, &t) ||
      !X509_time_adj_ex(X509_getm_notAfter(cert.get()), static_cast<int>(days), 0, &t))
    return SslError("set validity");
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("Tempa"), -1, -1, 0);
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(subject_cn.c_str()), -1, -1,
                                 0) != 1)
    return SslError("set subject");
  X509* signer = issuer != nullptr ? issuer : cert.get();
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(signer)) != 1 ||
      X509_set_pubkey(cert.get(), key) != 1)
    return SslError("set issuer");
  if (is_ca) {
    RETURN_IF_ERROR(
        AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
    RETURN_IF_ERROR(
        AddExtension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign"));
  } else {
    RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE"));
    RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_key_usage, "critical,digitalSignature"));
    RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_ext_key_usage, "serverAuth"));
    RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_subject_alt_name, san));
  }
  RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_subject_key_identifier, "hash"));
  if (issuer != nullptr) {
    RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_authority_key_identifier, "keyid:always"));
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) return SslError("sign certificate");
  return cert;
}

absl::StatusOr<PkeyPtr> NewP256Key() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return SslError("generate an EC P-256 key");
  return key;
}

// True when `cert` is valid at `at`.
bool ValidAt(X509* cert, absl::Time at) {
  time_t t = absl::ToTimeT(at);
  return X509_cmp_time(X509_get0_notBefore(cert), &t) <= 0 &&
         X509_cmp_time(X509_get0_notAfter(cert), &t) > 0;
}

// The CA in dir_fd: loaded when both files are there and match, made (and written) otherwise.
absl::Status LoadOrMakeCa(int dir_fd, const std::string& dir, absl::Time now, PkeyPtr* key,
                          X509Ptr* cert) {
  auto key_pem = ReadFileBeneath(dir_fd, dir, "ca.key");
  auto cert_pem = ReadFileBeneath(dir_fd, dir, "ca.crt");
  const std::string fix = absl::StrCat("remove ", dir, "/ca.key and ca.crt to make a new CA");
  if (key_pem.ok() && cert_pem.ok()) {
    ASSIGN_OR_RETURN(*key, ParseKey(*key_pem, dir + "/ca.key", fix));
    ASSIGN_OR_RETURN(auto certs, ParseCerts(*cert_pem, dir + "/ca.crt", fix));
    *cert = std::move(certs[0]);
    if (X509_check_private_key(cert->get(), key->get()) != 1) {
      ERR_clear_error();
      return absl::FailedPreconditionError(
          absl::StrCat(dir, "/ca.key does not match ", dir, "/ca.crt; ", fix));
    }
    if (ValidAt(cert->get(), now + absl::Hours(24 * kRenewBeforeDays))) return absl::OkStatus();
    // An expiring CA: make a new one (clients must trust it again).
  } else if (key_pem.ok() != cert_pem.ok()) {
    const absl::Status& bad = key_pem.ok() ? cert_pem.status() : key_pem.status();
    if (!absl::IsNotFound(bad)) return bad;
  } else if (!absl::IsNotFound(key_pem.status())) {
    return key_pem.status();
  }
  ASSIGN_OR_RETURN(*key, NewP256Key());
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  ASSIGN_OR_RETURN(*cert, MakeCert(key->get(), absl::StrCat("Tempa edge CA (", host, ")"), nullptr,
                                   key->get(), kCaDays, true, "", now));
  ASSIGN_OR_RETURN(std::string new_key_pem, PemOf(key->get()));
  ASSIGN_OR_RETURN(std::string new_cert_pem, PemOf(cert->get()));
  RETURN_IF_ERROR(WriteFileAtomically(dir_fd, dir, "ca.key", new_key_pem, 0600));
  return WriteFileAtomically(dir_fd, dir, "ca.crt", new_cert_pem, 0644);
}

// True when server.crt/server.key in dir_fd can be kept.
bool ServerCertUsable(int dir_fd, const std::string& dir, const std::string& domain, X509* ca,
                      absl::Time now) {
  auto key_pem = ReadFileBeneath(dir_fd, dir, "server.key");
  auto cert_pem = ReadFileBeneath(dir_fd, dir, "server.crt");
  if (!key_pem.ok() || !cert_pem.ok()) return false;
  auto key = ParseKey(*key_pem, "", "");
  auto certs = ParseCerts(*cert_pem, "", "");
  if (!key.ok() || !certs.ok()) return false;
  X509* leaf = (*certs)[0].get();
  PkeyPtr ca_key(X509_get_pubkey(ca));
  const std::string sub = "tempa-edge-check." + domain;
  bool ok = X509_check_private_key(leaf, key->get()) == 1 && X509_verify(leaf, ca_key.get()) == 1 &&
            ValidAt(leaf, now) && ValidAt(leaf, now + absl::Hours(24 * kRenewBeforeDays)) &&
            X509_check_host(leaf, domain.c_str(), domain.size(), 0, nullptr) == 1 &&
            X509_check_host(leaf, sub.c_str(), sub.size(), 0, nullptr) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace

absl::Status ValidateDnsName(const std::string& name) {
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "host name \"", absl::CEscape(name), "\" ", why,
        ": use DNS labels of a-z, 0-9 and '-' separated by dots (e.g. app-main.example.com)"));
  };
  if (name.empty()) return bad("is empty");
  if (name.size() > 253) return bad("is longer than 253 characters");
  size_t label = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.') {
      if (label == 0) return bad("has an empty label");
      if (label > 63) return bad("has a label longer than 63 characters");
      if (name[i - 1] == '-') return bad("has a label ending with '-'");
      label = 0;
      continue;
    }
    const char c = name[i];
    if (c >= 'A' && c <= 'Z') return bad("has upper-case letters (write it in lower case)");
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
      return bad("has a character that is not allowed");
    if (label == 0 && c == '-') return bad("has a label starting with '-'");
    ++label;
  }
  return absl::OkStatus();
}

absl::StatusOr<TlsFiles> EnsureSelfSignedCertificate(const std::string& dir,
                                                     const std::string& domain, absl::Time now) {
  RETURN_IF_ERROR(Annotate(ValidateDnsName(domain), "TLS domain"));
  ASSIGN_OR_RETURN(UniqueFd dir_fd, OpenPrivateDir(dir, 0700));
  PkeyPtr ca_key;
  X509Ptr ca_cert;
  RETURN_IF_ERROR(LoadOrMakeCa(dir_fd.get(), dir, now, &ca_key, &ca_cert));
  TlsFiles files{dir + "/server.crt", dir + "/server.key", dir + "/ca.crt"};
  if (ServerCertUsable(dir_fd.get(), dir, domain, ca_cert.get(), now)) return files;
  ASSIGN_OR_RETURN(PkeyPtr key, NewP256Key());
  ASSIGN_OR_RETURN(X509Ptr cert,
                   MakeCert(key.get(), domain, ca_cert.get(), ca_key.get(), kServerDays, false,
                            absl::StrCat("DNS:*.", domain, ",DNS:", domain), now));
  ASSIGN_OR_RETURN(std::string key_pem, PemOf(key.get()));
  ASSIGN_OR_RETURN(std::string leaf_pem, PemOf(cert.get()));
  ASSIGN_OR_RETURN(std::string ca_pem, PemOf(ca_cert.get()));
  // Key first: a crash between the two leaves a mismatch that the next start repairs.
  RETURN_IF_ERROR(WriteFileAtomically(dir_fd.get(), dir, "server.key", key_pem, 0600));
  RETURN_IF_ERROR(WriteFileAtomically(dir_fd.get(), dir, "server.crt", leaf_pem + ca_pem, 0644));
  return files;
}

absl::Status ValidateCertificateAndKey(const std::string& cert_path, const std::string& key_path,
                                       absl::Time now) {
  ASSIGN_OR_RETURN(std::string cert_pem, ReadFileAt(cert_path));
  ASSIGN_OR_RETURN(std::string key_pem, ReadFileAt(key_path));
  ASSIGN_OR_RETURN(
      auto certs,
      ParseCerts(cert_pem, cert_path,
                 "put the PEM certificate chain there, the server's certificate first"));
  ASSIGN_OR_RETURN(PkeyPtr key,
                   ParseKey(key_pem, key_path, "put the certificate's PEM private key there"));
  X509* leaf = certs[0].get();
  if (X509_check_private_key(leaf, key.get()) != 1) {
    ERR_clear_error();
    return absl::FailedPreconditionError(absl::StrCat(
        key_path, " is not the private key of the first certificate in ", cert_path,
        ": put the key that belongs to that certificate there (or the certificate first)"));
  }
  time_t t = absl::ToTimeT(now);
  if (X509_cmp_time(X509_get0_notAfter(leaf), &t) <= 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the certificate in ", cert_path, " has expired: renew it (e.g. certbot renew)"));
  }
  if (X509_cmp_time(X509_get0_notBefore(leaf), &t) > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("the certificate in ", cert_path,
                     " is not valid yet: check this machine's clock or wait until its notBefore"));
  }
  return absl::OkStatus();
}

absl::StatusOr<TlsFiles> LoadOperatorCertificateDir(const std::string& dir, absl::Time now) {
  for (const auto& [cert, key] :
       {std::pair<const char*, const char*>{"fullchain.pem", "privkey.pem"},
        {"tls.crt", "tls.key"}}) {
    TlsFiles files{absl::StrCat(dir, "/", cert), absl::StrCat(dir, "/", key), ""};
    struct stat st;
    if (stat(files.cert_path.c_str(), &st) != 0 && stat(files.key_path.c_str(), &st) != 0) continue;
    RETURN_IF_ERROR(ValidateCertificateAndKey(files.cert_path, files.key_path, now));
    return files;
  }
  return absl::NotFoundError(absl::StrCat(
      "certificate directory ", dir,
      " holds neither fullchain.pem + privkey.pem nor tls.crt + tls.key: put the PEM chain and key "
      "there under one of those names"));
}

absl::StatusOr<TlsFiles> ResolveEdgeTls(const std::string& cert_dir,
                                        const std::string& self_signed_dir,
                                        const std::string& domain, absl::Time now) {
  if (!cert_dir.empty()) return LoadOperatorCertificateDir(cert_dir, now);
  return EnsureSelfSignedCertificate(self_signed_dir, domain, now);
}

}  // namespace tempa::deploy
