import ember as torch
# 注意只有float类型的tensor才能自动求导
x = torch.arange(0,3, requires_grad=True, dtype=torch.float)
y = x**2 + x*2
z = y.sum()
z.backward()
print(repr(x.grad))

x = torch.arange(0,3, requires_grad=True, dtype=torch.float)
y = x**2 + x*2
z = y.sum()
y.backward(torch.tensor([1.,1.,1.]))
print(repr(x.grad))
