// SecretBox on libsodium's crypto_secretbox (XSalsa20-Poly1305).
#include "core/secret_box.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/crypto.h"

namespace lathe {

Result<SecretBox> SecretBox::OpenOrCreate(const std::filesystem::path& key_file) {
    SecretBox box;
    box.key_.resize(crypto_secretbox_KEYBYTES);
    int fd = ::open(key_file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        fd = ::open(key_file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
            return MakeError(ErrorCode::kInternal,
                             "cannot create key file " + key_file.string() + ": " + std::strerror(errno));
        }
        crypto_secretbox_keygen(reinterpret_cast<unsigned char*>(box.key_.data()));
        bool ok = ::write(fd, box.key_.data(), box.key_.size()) ==
                      static_cast<ssize_t>(box.key_.size()) &&
                  ::fsync(fd) == 0;
        ::close(fd);
        if (!ok) {
            return MakeError(ErrorCode::kInternal, "cannot write key file " + key_file.string());
        }
        return box;
    }
    if (fd < 0) {
        return MakeError(ErrorCode::kInternal,
                         "cannot read key file " + key_file.string() + ": " + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd, &st) == 0 && (st.st_mode & 077) != 0) {
        ::fchmod(fd, 0600);  // tighten a key file someone loosened
    }
    ssize_t n = ::read(fd, box.key_.data(), box.key_.size());
    ::close(fd);
    if (n != static_cast<ssize_t>(box.key_.size())) {
        return MakeError(ErrorCode::kInternal, "key file " + key_file.string() +
                                                   " is damaged (wrong size); restore it from backup");
    }
    return box;
}

std::string SecretBox::Seal(std::string_view plaintext) const {
    std::string out(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plaintext.size(), '\0');
    auto* nonce = reinterpret_cast<unsigned char*>(out.data());
    randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(nonce + crypto_secretbox_NONCEBYTES,
                          reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
                          nonce, reinterpret_cast<const unsigned char*>(key_.data()));
    return Base64UrlEncode(out);
}

Result<std::string> SecretBox::Open(std::string_view sealed) const {
    ASSIGN_OR_RETURN(std::string raw, Base64UrlDecode(sealed));
    if (raw.size() < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
        return MakeError(ErrorCode::kInternal, "sealed value is truncated");
    }
    std::string out(raw.size() - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES, '\0');
    const auto* nonce = reinterpret_cast<const unsigned char*>(raw.data());
    if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(out.data()),
                                   nonce + crypto_secretbox_NONCEBYTES,
                                   raw.size() - crypto_secretbox_NONCEBYTES, nonce,
                                   reinterpret_cast<const unsigned char*>(key_.data())) != 0) {
        return MakeError(ErrorCode::kInternal,
                         "a sealed value does not match the key file (was the key replaced?)");
    }
    return out;
}

}  // namespace lathe
