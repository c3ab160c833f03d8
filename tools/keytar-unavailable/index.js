"use strict";
// See package.json: keytar's native build needs libsecret-1-dev; this repository only validates and packages offline.
const unavailable = () =>
  Promise.reject(new Error("keytar is not installed in this repository's dev tools (OS keychain unavailable)"));
module.exports = {
  getPassword: unavailable,
  setPassword: unavailable,
  deletePassword: unavailable,
  findPassword: unavailable,
  findCredentials: unavailable,
};
