// Typed execution-provider failures, and plain-language explanations of the raw
// messages ONNX Runtime gives when a GPU provider cannot be used.

export type ProviderName = 'cpu' | 'cuda' | 'dml';

export type ProviderErrorCode = 'unavailable' | 'session-failed' | 'run-failed' | 'mismatch';

/** Human names for messages. */
export const PROVIDER_LABEL: Record<ProviderName, string> = { cpu: 'CPU', cuda: 'CUDA', dml: 'DirectML' };

/**
 * A provider that cannot be trusted. `message` is written for a non-expert; `detail` is the
 * raw ONNX Runtime message (plus any loader log we captured), for bug reports.
 */
export class ProviderError extends Error {
  override readonly name = 'ProviderError';
  constructor(
    readonly code: ProviderErrorCode,
    readonly provider: ProviderName,
    message: string,
    readonly detail = '',
  ) {
    super(message);
  }
}

export type FailureStage = 'session' | 'run';

const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, ''); // eslint-disable-line no-control-regex

const CUDA_RUNTIME_LIBS = /^lib(cudart|cublas|cublasLt|cufft|curand|cusparse|cusolver|nvrtc|nvJitLink|cupti)\b/;

/**
 * A sentence for a known ONNX Runtime failure, or undefined when the text matches nothing
 * we recognise. Every sentence says what is wrong and what the user can do about it.
 */
export function explainKnownFailure(provider: ProviderName, raw: string): string | undefined {
  const text = stripAnsi(raw);
  if (/backend not found/i.test(text)) {
    return `This ONNX Runtime build does not include the ${PROVIDER_LABEL[provider]} provider: keep using the CPU.`;
  }
  if (/no kernel image is available/i.test(text)) {
    return (
      "Your GPU's compute capability is not supported by this ONNX Runtime build (no kernel image), " +
      'so CUDA cannot run on this GPU; use the CPU instead.'
    );
  }
  if (/CUDA driver version is insufficient|cudaErrorInsufficientDriver/i.test(text)) {
    return 'Your NVIDIA driver is too old for the CUDA 12 provider: update the NVIDIA driver or keep using the CPU.';
  }
  if (/no CUDA-capable device|cudaErrorNoDevice/i.test(text)) {
    return 'No usable NVIDIA GPU was found (no CUDA-capable device is detected): keep using the CPU.';
  }
  // dlopen failures: report the library the loader could not find.
  const lib = /(lib[\w.+-]*?\.so(?:\.\d+)*): cannot open shared object file/.exec(text)?.[1];
  if (lib) {
    if (/^libcudnn/.test(lib)) return `The CUDA provider could not load ${lib}: install cuDNN 9 or keep using the CPU.`;
    if (/^libonnxruntime_providers_/.test(lib)) {
      return `The GPU pack is missing or incomplete (${lib} could not be loaded): install the GPU pack or keep using the CPU.`;
    }
    if (/^libcuda\.so/.test(lib)) return `The NVIDIA driver is not installed (${lib} was not found): install the NVIDIA driver or keep using the CPU.`;
    if (CUDA_RUNTIME_LIBS.test(lib)) {
      return `The CUDA provider could not load ${lib}: install the CUDA 12 runtime libraries or keep using the CPU.`;
    }
    return `The ${PROVIDER_LABEL[provider]} provider could not load ${lib}: install it or keep using the CPU.`;
  }
  if (/out of memory|cudaErrorMemoryAllocation|Failed to allocate memory/i.test(text)) {
    return `The GPU ran out of memory while running a tiny test model: close other programs that use the GPU or keep using the CPU.`;
  }
  if (provider === 'dml') {
    if (/DXGI_ERROR_UNSUPPORTED|887A0004/i.test(text)) {
      return 'Your graphics card or its driver does not support DirectML (DirectX 12 is needed): update the graphics driver or keep using the CPU.';
    }
    if (/DXGI_ERROR_DEVICE_REMOVED|DXGI_ERROR_DEVICE_HUNG|887A0005|887A0006/i.test(text)) {
      return 'The graphics card stopped responding while running a tiny test model: update the graphics driver or keep using the CPU.';
    }
    if (/DirectML\.dll|LoadLibrary/i.test(text)) {
      return 'DirectML could not be loaded (DirectML.dll is missing or broken): reinstall Distill Studio or keep using the CPU.';
    }
  }
  if (/Failed to load shared library/i.test(text)) {
    return (
      `The ${PROVIDER_LABEL[provider]} provider's libraries could not be loaded (the GPU pack, CUDA 12 or cuDNN 9 may be missing): ` +
      'install them or keep using the CPU.'
    );
  }
  return undefined;
}

/** A sentence for any failure: the known explanation, or a generic one naming the stage. */
export function explainFailure(provider: ProviderName, stage: FailureStage, raw: string): string {
  const known = explainKnownFailure(provider, raw);
  if (known) return known;
  const label = PROVIDER_LABEL[provider];
  return stage === 'session'
    ? `ONNX Runtime could not start the ${label} provider (see the details): keep using the CPU, or check your drivers.`
    : `The ${label} provider started but failed while running a tiny test model (see the details): keep using the CPU, or check your drivers.`;
}

export function errorText(e: unknown): string {
  return stripAnsi(e instanceof Error ? e.message : String(e));
}
