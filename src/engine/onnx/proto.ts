// The ONNX protobuf schema, from the onnx-proto package (protobufjs static code).
import onnxProto from 'onnx-proto';

export const onnx = onnxProto.onnx;
export type ModelProto = onnxProto.onnx.ModelProto;

/** Element types the engine builds graphs with. */
export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';

const TensorType = onnxProto.onnx.TensorProto.DataType;

export const DTYPE_TO_ONNX: Record<DType, number> = {
  float32: TensorType.FLOAT,
  float64: TensorType.DOUBLE,
  int64: TensorType.INT64,
  int32: TensorType.INT32,
  int8: TensorType.INT8,
  uint8: TensorType.UINT8,
  bool: TensorType.BOOL,
};

export const ONNX_TO_DTYPE: Record<number, DType> = Object.fromEntries(
  Object.entries(DTYPE_TO_ONNX).map(([k, v]) => [v, k as DType]),
) as Record<number, DType>;

export type TypedArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'int64'
      ? BigInt64Array
      : D extends 'int32'
        ? Int32Array
        : D extends 'int8'
          ? Int8Array
          : Uint8Array;

export type AnyTypedArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Int8Array | Uint8Array;

export function bytesPerElement(d: DType): number {
  return { float32: 4, float64: 8, int64: 8, int32: 4, int8: 1, uint8: 1, bool: 1 }[d];
}
