/** The operator's lean kubeconfig loader and how its credentials reach a request. */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KubeAccess } from '../../src/kube/access.ts';
import { loadKube } from '../../src/kube/kubeconfig.ts';

async function kubeconfig(user: string, cluster = 'server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true'): Promise<{ dir: string; path: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'teamkeys-kc-'));
  const path = join(dir, 'config');
  await writeFile(path, [
    'apiVersion: v1', 'kind: Config',
    `clusters: [{name: c, cluster: {${cluster}}}]`,
    `users: [{name: u, user: {${user}}}, {name: other, user: {token: "not-this-one"}}]`,
    'contexts: [{name: x, context: {cluster: c, user: other}}, {name: ctx, context: {cluster: c, user: u}}]',
    'current-context: ctx', '',
  ].join('\n'));
  return { dir, path };
}

describe('the lean kubeconfig', () => {
  it('reads the current context: its cluster, and its user\'s token as a bearer header', async () => {
    const { path } = await kubeconfig('token: "abc"');
    const kc = await loadKube(path);
    expect(kc.getCurrentCluster()).toMatchObject({ server: 'https://127.0.0.1:6443', skipTLSVerify: true });
    const access = new KubeAccess(kc);
    expect(access.server).toBe('https://127.0.0.1:6443');
    expect(await access.headers()).toEqual({ authorization: 'Bearer abc' });
    await access.close();
  });

  it('reads a token file relative to the kubeconfig, as kubectl does', async () => {
    const { dir, path } = await kubeconfig('tokenFile: token');
    await writeFile(join(dir, 'token'), 'from-file\n');
    const access = new KubeAccess(await loadKube(path));
    expect(await access.headers()).toEqual({ authorization: 'Bearer from-file' });
    await access.close();
  });

  it('resolves relative certificate paths against the kubeconfig\'s folder', async () => {
    const { dir, path } = await kubeconfig('client-certificate: c.crt, client-key: c.key');
    const user = (await loadKube(path)).getCurrentUser();
    expect(user).toMatchObject({ certFile: join(dir, 'c.crt'), keyFile: join(dir, 'c.key') });
  });

  it('hands an exec plugin to client-node\'s loader, which knows it', async () => {
    const { path } = await kubeconfig('exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/true}');
    const kc = await loadKube(path);
    expect('applyToHTTPSOptions' in kc).toBe(true);
    expect(kc.getCurrentUser()).toMatchObject({ exec: expect.objectContaining({ command: '/bin/true' }) });
  });

  it('merges a $KUBECONFIG list with client-node\'s loader, and reads an empty path as none given', async () => {
    const a = await kubeconfig('token: "from-a"');
    const b = await kubeconfig('token: "from-b"');
    // (a second file names its own cluster and user, as files merged by kubectl do)
    await writeFile(b.path, (await readFile(b.path, 'utf8')).replaceAll('name: c,', 'name: c2,').replaceAll('cluster: c,', 'cluster: c2,').replaceAll('name: u,', 'name: u2,').replaceAll('user: u}', 'user: u2}').replaceAll('name: other,', 'name: other2,').replaceAll('user: other}', 'user: other2}').replaceAll('name: x,', 'name: x2,').replaceAll('name: ctx,', 'name: ctx2,').replace('current-context: ctx', 'current-context: ctx2'));
    const merged = await loadKube(`${a.path}${delimiter}${b.path}`);
    expect(merged.getCurrentUser()).toMatchObject({ token: 'from-a' });
    const was = process.env['KUBECONFIG'];
    process.env['KUBECONFIG'] = b.path;
    try {
      expect((await loadKube('')).getCurrentUser()).toMatchObject({ token: 'from-b' });
    } finally {
      if (was === undefined) delete process.env['KUBECONFIG'];
      else process.env['KUBECONFIG'] = was;
    }
  });

  it('says what is missing when there is no current context', async () => {
    const { path } = await kubeconfig('token: "abc"');
    await writeFile(path, 'apiVersion: v1\nkind: Config\ncurrent-context: nowhere\n');
    await expect(loadKube(path)).rejects.toThrow(/no current context/);
  });
});
