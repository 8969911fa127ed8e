/**
 * src/node/backend.ts: what WebGPU in Node needs on Linux (a Vulkan driver and the Vulkan loader),
 * told apart in the message, and the same check deciding the tests' webgpu skips.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BackendError, SWIFTSHADER_ICD, type WebGpuFacts, findVulkanLoader, loaderPathsInLdconfig, useBackend, webGpuProblem,
} from '../src/node/backend.ts';

const LISTING = `412 libs found in cache \`/etc/ld.so.cache'
\tlibvulkan.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libvulkan.so.1
\tlibvulkan.so (libc6,x86-64) => /lib/x86_64-linux-gnu/libvulkan.so
\tlibvulkan.so.1 (libc6) => /lib/i386-linux-gnu/libvulkan.so.1
\tlibvk_swiftshader.so (libc6,x86-64) => /usr/lib/chromium/libvk_swiftshader.so
`;

const linux = (over: Partial<WebGpuFacts>): WebGpuFacts => ({
  platform: 'linux', icdFromEnv: undefined, swiftShaderIcd: true, vulkanLoader: '/lib/x86_64-linux-gnu/libvulkan.so.1', ...over,
});

describe('loaderPathsInLdconfig', () => {
  it('loaderPathsInLdconfig(listing) keeps the two libvulkan.so.1 lines, not libvulkan.so or other libraries', () => {
    expect(loaderPathsInLdconfig(LISTING)).toEqual(['/lib/x86_64-linux-gnu/libvulkan.so.1', '/lib/i386-linux-gnu/libvulkan.so.1']);
  });
  it('loaderPathsInLdconfig of a cache without it is empty', () => {
    expect(loaderPathsInLdconfig(LISTING.replace(/libvulkan\.so\.1 /g, 'libvulkan.so.2 '))).toEqual([]);
  });
});

describe('findVulkanLoader', () => {
  it('finds libvulkan.so.1 in a directory of LD_LIBRARY_PATH first', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vk-'));
    try {
      writeFileSync(join(dir, 'libvulkan.so.1'), '');
      expect(findVulkanLoader({ LD_LIBRARY_PATH: `/nonexistent:${dir}` })).toBe(join(dir, 'libvulkan.so.1'));
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
  it('does not take chromium\'s private copy in /usr/lib/chromium (the dynamic linker does not look there)', () => {
    expect(findVulkanLoader({}) ?? 'not found').not.toMatch(/chromium/);
  });
});

describe('webGpuProblem', () => {
  it('is undefined with SwiftShader\'s ICD and the loader', () => {
    expect(webGpuProblem(linux({}))).toBeUndefined();
  });
  it('without the loader names libvulkan1 and not chromium\'s install', () => {
    const m = webGpuProblem(linux({ vulkanLoader: undefined }))!;
    expect(m).toMatch(/libvulkan\.so\.1/);
    expect(m).toMatch(/apt-get install libvulkan1/);
    expect(m).not.toMatch(/apt-get install chromium/);
  });
  it('without the ICD names SwiftShader\'s file and apt-get install chromium, and not libvulkan1', () => {
    const m = webGpuProblem(linux({ swiftShaderIcd: false }))!;
    expect(m).toContain(SWIFTSHADER_ICD);
    expect(m).toMatch(/apt-get install chromium/);
    expect(m).not.toMatch(/libvulkan1/);
  });
  it('without both names both', () => {
    const m = webGpuProblem(linux({ swiftShaderIcd: false, vulkanLoader: undefined }))!;
    expect(m).toMatch(/apt-get install chromium/);
    expect(m).toMatch(/apt-get install libvulkan1/);
  });
  it('a VK_ICD_FILENAMES the user set stands for the driver (a GPU\'s ICD), the loader is still needed', () => {
    expect(webGpuProblem(linux({ swiftShaderIcd: false, icdFromEnv: '/etc/vulkan/icd.d/nvidia_icd.json' }))).toBeUndefined();
    expect(webGpuProblem(linux({ swiftShaderIcd: false, icdFromEnv: '/x.json', vulkanLoader: undefined }))).toMatch(/libvulkan1/);
  });
  it('is undefined off Linux (Metal, Direct3D)', () => {
    expect(webGpuProblem({ platform: 'darwin', icdFromEnv: undefined, swiftShaderIcd: false, vulkanLoader: undefined })).toBeUndefined();
  });
});

describe("useBackend('webgpu') on this machine", () => {
  const problem = webGpuProblem();
  it.runIf(problem !== undefined)('refuses with the missing piece named (BackendError, the webGpuProblem message)', async () => {
    const e = await useBackend('webgpu').catch((err: unknown) => err);
    expect(e).toBeInstanceOf(BackendError);
    expect((e as Error).message).toBe(problem);
  });
  it.runIf(problem === undefined)('starts (Dawn on the Vulkan driver) when nothing is missing', async () => {
    await useBackend('webgpu');
    await useBackend('cpu');
  });
});
