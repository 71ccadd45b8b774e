// hello.cpp: libesdk from C++17: RAII ownership of the C handles, one-shot encryption and
// decryption into std::vector buffers, and the header of a message through a decryptor.
//
// Build: c++ -std=c++17 hello.cpp $(pkg-config --cflags --libs esdk) -o hello
// Run with no arguments; exit status 0 on success.

#include <esdk.h>

#include <cstdint>
#include <cstring>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// Each handle type frees itself with its own ..._free function.
struct Free {
    void operator()(esdk_keyring *p) const noexcept { esdk_keyring_free(p); }
    void operator()(esdk_client_config *p) const noexcept { esdk_client_config_free(p); }
    void operator()(esdk_decryptor *p) const noexcept { esdk_decryptor_free(p); }
};
using Keyring = std::unique_ptr<esdk_keyring, Free>;
using Config = std::unique_ptr<esdk_client_config, Free>;
using Decryptor = std::unique_ptr<esdk_decryptor, Free>;

void check(esdk_result rc, const char *what) {
    if (rc != ESDK_RESULT_OK) {
        throw std::runtime_error(std::string(what) + ": " + esdk_result_message(rc));
    }
}

Keyring aes_keyring(const std::string &ns, const std::string &name,
                    const std::vector<std::uint8_t> &key) {
    esdk_keyring *k = nullptr;
    check(esdk_raw_aes_keyring_new(ns.c_str(), name.c_str(), key.data(), key.size(), &k),
          "raw AES keyring");
    return Keyring(k);
}

std::vector<std::uint8_t> encrypt(const esdk_client_config *config, const esdk_keyring *keyring,
                                  const std::string &plaintext) {
    std::size_t bound = 0, len = 0;
    check(esdk_encrypt_output_bound(config, keyring, plaintext.size(), &bound), "bound");
    std::vector<std::uint8_t> message(bound);
    check(esdk_encrypt(config, keyring, reinterpret_cast<const std::uint8_t *>(plaintext.data()),
                       plaintext.size(), message.data(), message.size(), &len),
          "encrypt");
    message.resize(len);
    return message;
}

std::string decrypt(const esdk_client_config *config, const esdk_keyring *keyring,
                    const std::vector<std::uint8_t> &message) {
    std::size_t bound = 0, len = 0;
    check(esdk_decrypt_output_bound(message.size(), &bound), "bound");
    std::vector<std::uint8_t> plaintext(bound);
    check(esdk_decrypt(config, keyring, message.data(), message.size(), plaintext.data(),
                       plaintext.size(), &len),
          "decrypt");
    return std::string(plaintext.begin(), plaintext.begin() + static_cast<std::ptrdiff_t>(len));
}

// Reads the header of `message` with a decryptor: the value of one context key.
std::string context_value(const esdk_client_config *config, const esdk_keyring *keyring,
                          const std::vector<std::uint8_t> &message, const char *key) {
    esdk_decryptor *raw = nullptr;
    check(esdk_decryptor_new(config, keyring, &raw), "decryptor");
    Decryptor d(raw);
    std::vector<std::uint8_t> sink(message.size());
    std::size_t written = 0, read = 0;
    check(esdk_decryptor_finish(d.get()), "finish");
    check(esdk_decryptor_process(d.get(), sink.data(), sink.size(), &written, message.data(),
                                 message.size(), &read),
          "process");
    const esdk_header *h = nullptr;
    const esdk_encryption_context *ctx = nullptr;
    const char *value = nullptr;
    std::size_t value_len = 0;
    check(esdk_decryptor_header(d.get(), &h), "header");
    check(esdk_header_encryption_context(h, &ctx), "context");
    check(esdk_encryption_context_get(ctx, key, &value, &value_len), "context lookup");
    return std::string(value, value_len);
}

}  // namespace

int main() {
    try {
        std::vector<std::uint8_t> key(32);
        for (std::size_t i = 0; i < key.size(); ++i) {
            key[i] = static_cast<std::uint8_t>(i * 3 + 1);  // a demo key, not a real one
        }
        Keyring keyring = aes_keyring("hello-namespace", "hello-key", key);
        esdk_client_config *raw = nullptr;
        check(esdk_client_config_new(&raw), "config");
        Config config(raw);
        check(esdk_client_config_add_encryption_context(config.get(), "greeting", "hello"),
              "context");

        const std::string text = "Hello from C++17 through libesdk " + std::string(esdk_version());
        std::vector<std::uint8_t> message = encrypt(config.get(), keyring.get(), text);
        std::string back = decrypt(config.get(), keyring.get(), message);
        std::string greeting = context_value(config.get(), keyring.get(), message, "greeting");
        if (back != text || greeting != "hello") {
            std::cerr << "hello: round trip mismatch\n";
            return 1;
        }
        std::cout << back << " (" << message.size() << "-byte message, greeting=" << greeting
                  << ")\n";
        return 0;
    } catch (const std::exception &e) {
        std::cerr << "hello: " << e.what() << '\n';
        return 1;
    }
}
