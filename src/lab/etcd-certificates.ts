import { randomBytes } from "node:crypto";
import { chmod, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../host/exec.js";
import type { EtcdCertificates } from "./etcd.js";

/** Returns the etcd arguments that serve clients and peers with the certificates in `dir`. */
export function serverTlsArgs(dir: string): string[] {
  const ca = join(dir, "ca.crt");
  const cert = join(dir, "server.crt");
  const key = join(dir, "server.key");
  return [
    ...["--cert-file", cert, "--key-file", key, "--trusted-ca-file", ca, "--client-cert-auth"],
    ...["--peer-cert-file", cert, "--peer-key-file", key, "--peer-trusted-ca-file", ca],
    "--peer-client-cert-auth",
  ];
}

/**
 * Makes a CA, a server certificate for `addresses` and a client certificate in `dir` with
 * openssl. The server certificate also allows client authentication, because etcd's JSON
 * gateway connects to its own gRPC server with it.
 */
export async function makeCertificates(
  dir: string,
  addresses: readonly string[],
): Promise<EtcdCertificates> {
  const path = (name: string): string => join(dir, name);
  const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run([
    ...[
      "openssl",
      "req",
      "-x509",
      "-new",
      ...newKey,
      "-keyout",
      path("ca.key"),
      "-out",
      path("ca.crt"),
    ],
    ...["-days", "7", "-subj", "/CN=ovs-mesh test CA"],
    ...[
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ],
  ]);

  const names = [...new Set(["127.0.0.1", ...addresses])].map((address) => `IP:${address}`);
  const certificates = [
    {
      name: "server",
      subject: "/CN=etcd",
      extensions: `subjectAltName=${["DNS:localhost", ...names].join(",")}\nextendedKeyUsage=serverAuth,clientAuth\n`,
    },
    { name: "client", subject: "/CN=ovs-mesh", extensions: "extendedKeyUsage=clientAuth\n" },
  ];
  for (const { name, subject, extensions } of certificates) {
    await writeFile(path(`${name}.ext`), extensions);
    await run([
      "openssl",
      "req",
      "-new",
      ...newKey,
      "-keyout",
      path(`${name}.key`),
      "-out",
      path(`${name}.csr`),
      "-subj",
      subject,
    ]);
    await run([
      ...[
        "openssl",
        "x509",
        "-req",
        "-in",
        path(`${name}.csr`),
        "-CA",
        path("ca.crt"),
        "-CAkey",
        path("ca.key"),
      ],
      ...["-set_serial", `0x${randomBytes(8).toString("hex")}`, "-days", "7"],
      ...["-extfile", path(`${name}.ext`), "-out", path(`${name}.crt`)],
    ]);
    await chmod(path(`${name}.key`), 0o600);
  }
  return { ca: path("ca.crt"), cert: path("client.crt"), key: path("client.key") };
}
