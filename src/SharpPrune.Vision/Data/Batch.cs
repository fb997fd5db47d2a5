namespace SharpPrune.Vision.Data;

/// <summary>A mini-batch: images N x C x H x W (transformed), their labels and their dataset indices.</summary>
public sealed record Batch(Tensor Images, int[] Labels, int[] Indices)
{
    public int Count => Labels.Length;
}
